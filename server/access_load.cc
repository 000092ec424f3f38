#include "server/access_load.h"

#include <openssl/crypto.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ringcast {
namespace {

// Key files are small; anything past this is not a key.
constexpr std::size_t kKeyFileBytesMax = 64 * 1024;

// Reads a key or secret file whole. The bytes are secret: `out` is reserved up front so it
// never reallocates (a reallocation would leave a copy behind in freed memory), the stdio
// buffer is our own and both scratch buffers are wiped.
std::string read_file(const std::string& path, std::string& out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return std::strerror(errno);
  char stdio_buf[BUFSIZ];
  std::setvbuf(f, stdio_buf, _IOFBF, sizeof stdio_buf);
  wipe(out);
  out.reserve(kKeyFileBytesMax + 4096);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && out.size() <= kKeyFileBytesMax) out.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  OPENSSL_cleanse(buf, sizeof buf);
  OPENSSL_cleanse(stdio_buf, sizeof stdio_buf);
  if (failed) return "read error";
  if (out.size() > kKeyFileBytesMax) return "larger than 64 KiB";
  return {};
}

// `echo secret > file` leaves a line break that is not part of the secret.
void trim_line_break(std::string& bytes) {
  if (!bytes.empty() && bytes.back() == '\n') bytes.pop_back();
  if (!bytes.empty() && bytes.back() == '\r') bytes.pop_back();
}

std::string read_secret(const std::string& flag, const std::string& path, std::string& out) {
  if (std::string err = read_file(path, out); !err.empty()) return flag + " " + path + ": " + err;
  trim_line_break(out);
  if (out.empty()) return flag + " " + path + ": the file is empty";
  return {};
}

}  // namespace

void wipe(std::string& secret) {
  OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

std::string load_secret_files(Config& config) {
  if (!config.publish_token_file.empty()) {
    if (std::string err = read_secret("--publish-token-file", config.publish_token_file, config.publish_token);
        !err.empty())
      return err;
  }
  if (!config.redis_password_file.empty()) {
    if (std::string err = read_secret("--redis-password-file", config.redis_password_file, config.redis_password);
        !err.empty())
      return err;
  }
  return {};
}

std::string load_access(const Config& config, http::AccessPolicy& policy) {
  policy.settings.publish_token = config.publish_token;
  policy.settings.leeway_s = config.jwt_leeway_s;
  policy.settings.audience = config.jwt_audience;
  policy.settings.issuer = config.jwt_issuer;
  policy.settings.require_subscribe_token = config.require_subscribe_token;
  policy.settings.cookie_name = config.jwt_cookie;
  std::string bytes;
  struct Wiper {
    std::string& bytes;
    ~Wiper() { wipe(bytes); }
  } wiper{bytes};
  if (!config.jwt_secret_file.empty()) {
    if (std::string err = read_file(config.jwt_secret_file, bytes); !err.empty())
      return "--jwt-secret-file " + config.jwt_secret_file + ": " + err;
    trim_line_break(bytes);
    // A PEM key where a shared secret belongs is a configuration mistake that would make
    // the public key an HMAC secret (algorithm confusion): refuse it.
    if (bytes.find("-----BEGIN") != std::string::npos)
      return "--jwt-secret-file " + config.jwt_secret_file +
             ": holds a PEM key; an HS256 secret is random bytes (a public key goes in --jwt-public-key)";
    if (std::string err = policy.keys.set_hmac_secret(bytes); !err.empty())
      return "--jwt-secret-file: " + err;
  }
  if (!config.jwt_public_key.empty()) {
    if (std::string err = read_file(config.jwt_public_key, bytes); !err.empty())
      return "--jwt-public-key " + config.jwt_public_key + ": " + err;
    if (std::string err = policy.keys.set_public_key_pem(bytes); !err.empty())
      return "--jwt-public-key: " + err;
  }
  if (!config.cors_origin.empty()) {
    if (std::string err = policy.cors.configure(config.cors_origin); !err.empty())
      return "--cors-origin: " + err;
  }
  return {};
}

}  // namespace ringcast

#include "core/access_load.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace ringcast {
namespace {

// Key files are small; anything past this is not a key.
constexpr std::size_t kKeyFileBytesMax = 64 * 1024;

std::string read_file(const std::string& path, std::string& out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return std::strerror(errno);
  out.clear();
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && out.size() <= kKeyFileBytesMax) out.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) return "read error";
  if (out.size() > kKeyFileBytesMax) return "larger than 64 KiB";
  return {};
}

}  // namespace

std::string load_access(const Config& config, http::AccessPolicy& policy) {
  policy.settings.publish_token = config.publish_token;
  policy.settings.leeway_s = config.jwt_leeway_s;
  policy.settings.audience = config.jwt_audience;
  policy.settings.issuer = config.jwt_issuer;
  policy.settings.require_subscribe_token = config.require_subscribe_token;
  policy.settings.cookie_name = config.jwt_cookie;
  std::string bytes;
  if (!config.jwt_secret_file.empty()) {
    if (std::string err = read_file(config.jwt_secret_file, bytes); !err.empty())
      return "--jwt-secret-file " + config.jwt_secret_file + ": " + err;
    // `echo secret > file` leaves a line break that is not part of the secret.
    if (!bytes.empty() && bytes.back() == '\n') bytes.pop_back();
    if (!bytes.empty() && bytes.back() == '\r') bytes.pop_back();
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

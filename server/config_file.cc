// The config file: TOML (toml++), one `key = value` per flag, keys being the flag names
// without "--". It walks the same flag tables as the command line (server/config.cc), so every
// flag has a key and every key is checked exactly as its flag is.
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <sstream>

#include "server/config.h"

namespace ringcast {

namespace {

std::string where(const std::string& source, const toml::source_region& region) {
  return source + ":" + std::to_string(region.begin.line) + ":" + std::to_string(region.begin.column);
}

const FlagInfo* find_flag(const std::vector<FlagInfo>& table, std::string_view key) {
  for (const FlagInfo& f : table)
    if (f.key == key) return &f;
  return nullptr;
}

// The node's value as the flag's text, or an empty optional with `why` set.
bool value_text(const FlagInfo& flag, const toml::node& node, std::string& text, std::string& why) {
  switch (flag.kind) {
    case FlagKind::integer:
      if (auto v = node.value_exact<std::int64_t>()) {
        if (*v < flag.min || *v > flag.max) {
          why = "must be an integer from " + std::to_string(flag.min) + " to " + std::to_string(flag.max);
          return false;
        }
        text = std::to_string(*v);
        return true;
      }
      why = "must be an integer";
      return false;
    case FlagKind::text:
      if (auto v = node.value_exact<std::string>()) {
        text = *v;
        return true;
      }
      why = "must be a string";
      return false;
    case FlagKind::boolean:
      if (auto v = node.value_exact<bool>()) {
        text = *v ? "true" : "false";
        return true;
      }
      why = "must be true or false";
      return false;
  }
  return false;
}

std::string toml_string(std::string_view text) {
  std::ostringstream out;
  out << toml::value<std::string>(std::string(text));
  return out.str();
}

}  // namespace

std::string load_config_text(std::string_view text, const std::string& source, Config& config) {
  toml::table root;
  try {
    root = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return where(source, e.source()) + ": " + std::string(e.description());
  }
  // The table iterates in key order; errors are reported in line order, all of them.
  std::vector<std::pair<toml::source_position, std::string>> errors;
  const std::vector<FlagInfo> table = flag_table();
  for (auto&& [key, node] : root) {
    const std::string name(key.str());
    const std::string at = where(source, key.source());
    const FlagInfo* flag = find_flag(table, name);
    std::string value, why, error;
    if (flag == nullptr) {
      errors.emplace_back(key.source().begin,
                          at + ": unknown key '" + name + "' (keys are the flag names without '--')");
    } else if (!value_text(*flag, node, value, why)) {
      errors.emplace_back(key.source().begin, at + ": key '" + name + "' " + why);
    } else if (apply_flag("--" + name, value, config, &error) != 0) {
      errors.emplace_back(key.source().begin, at + ": key '" + name + "': bad value " + toml_string(value));
    }
  }
  std::sort(errors.begin(), errors.end(), [](const auto& a, const auto& b) {
    return a.first.line != b.first.line ? a.first.line < b.first.line : a.first.column < b.first.column;
  });
  std::string all;
  for (const auto& e : errors) all += (all.empty() ? "" : "\n") + e.second;
  return all;
}

std::string load_config_file(const std::string& path, Config& config) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return "cannot read config file " + path + ": " + std::strerror(errno);
  std::string text;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    text.append(buf, n);
    if (text.size() > (1u << 20)) {
      std::fclose(f);
      return "config file " + path + " is larger than 1 MiB";
    }
  }
  const bool failed = std::ferror(f);
  std::fclose(f);
  if (failed) return "cannot read config file " + path;
  return load_config_text(text, path, config);
}

std::string print_config(const Config& config) {
  std::string out =
      "# ringcast effective settings (--print-config); load with --config FILE.\n"
      "# 0 for shards, max-connections, ring-files, ring-cq-entries, sndbuf and rcvbuf means\n"
      "# \"derived at start-up\" (see README, Flags).\n";
  for (const FlagInfo& f : flag_table()) {
    const std::string value = flag_value(config, f.key);
    // Secrets never leave the process: a set secret is printed redacted, commented out.
    if (is_secret_flag(f.key) && !value.empty()) {
      out += "# " + std::string(f.key) + " = \"<redacted>\"\n";
      continue;
    }
    // An empty text setting is "not set" (flags refuse an empty value): shown, commented out.
    if (f.kind == FlagKind::text && value.empty()) out += "# ";
    out += std::string(f.key) + " = " + (f.kind == FlagKind::text ? toml_string(value) : value) + "\n";
  }
  return out;
}

}  // namespace ringcast

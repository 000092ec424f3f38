#pragma once
// Building a Config: flags, the TOML config file, --print-config, and the checks between
// limits. The struct itself is core/config.h: core/ and redis/ read it, only the server
// start-up (server/) builds it.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"

namespace ringcast {

// Flags whose value is a secret (--print-config redacts them).
bool is_secret_flag(std::string_view key);

inline constexpr int kFlagsOk = 0;
inline constexpr int kFlagsHelp = 1;         // usage printed: exit 0
inline constexpr int kFlagsError = 2;        // message printed: exit 2
inline constexpr int kFlagsPrintConfig = 3;  // --print-config: print print_config() and exit 0
inline constexpr int kFlagsPrintRoutes = 4;  // --print-routes: print http::describe_routes(), exit 0

// Parses argv into `config`: first the file named by --config (if any), then every flag, so
// flags override the file. On --help prints usage to stdout; on an unknown flag, key or bad
// value prints a message naming it (and the file's line) to stderr. Returns a kFlags* code.
int parse_flags(int argc, char** argv, Config& config);

// Every flag is a row of one of config.cc's tables; the config file and --print-config walk
// the same rows, so a flag added there gets its TOML key (its name without "--") for free.
enum class FlagKind : std::uint8_t { integer, text, boolean };
struct FlagInfo {
  std::string_view key;  // "heartbeat-ms"
  FlagKind kind;
  std::uint32_t min, max;  // integer flags
};
std::vector<FlagInfo> flag_table();
// Applies one "--name" and its value as text. Returns 0, or 2 with the reason in *error
// (printed to stderr when error is null).
int apply_flag(std::string_view name, std::string_view value, Config& config, std::string* error);
// The setting of `key` as flag text ("15000", "0.0.0.0:8080", "true").
std::string flag_value(const Config& config, std::string_view key);

// Reads a TOML file of `key = value` lines into `config` (config_file.cc). Returns an empty
// string, or what is wrong as "FILE:LINE:COL: key 'name': reason".
std::string load_config_file(const std::string& path, Config& config);
// Parses TOML text (the same, without a file); `source` names it in messages. Every bad key
// is reported, one per line, in file order.
std::string load_config_text(std::string_view text, const std::string& source, Config& config);
// The settings as TOML that load_config_text accepts back unchanged.
std::string print_config(const Config& config);

// Checks relations between limits. Returns an empty string if fine, else what is wrong.
std::string validate(const Config& config);

std::string usage();

}  // namespace ringcast

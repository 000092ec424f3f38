#pragma once
// One command-line parser for ringcast's three programs (the server, ringcast-load and
// kernel_floor). CLI11 splits argv ("--name V", "--name=V", switches, one positional), finds
// unknown flags and missing values, and writes --help; every value is then handed as text to
// the program's own Apply, in command-line order. The values are never converted by CLI11:
// its integer parsing takes "010" as octal and "0x10" as hex, and the server's config file must
// check a key exactly as its flag, through the same Apply (server/config.cc).
//
// CLI11 stays inside flags.cc: this header is all a program sees, so only one file compiles it.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace ringcast {

enum class FlagsResult : std::uint8_t {
  ok,     // every flag applied
  help,   // --help/-h: the help went to stdout (exit 0)
  error,  // a message naming the flag went to stderr (exit 2)
};

// The conventional exit code of a usage error (as the three programs had before).
inline constexpr int kFlagsExitUsage = 2;

class FlagParser {
 public:
  // Applies one value given as text. Returns true, or false with `why` set to the accepted
  // form ("an integer from 1 to 64") or left empty.
  using Apply = std::function<bool(std::string_view value, std::string& why)>;
  // Flags marked `first` are applied before all others wherever they stand (the server's
  // --config: a file whose settings the other flags override).
  enum class Order : std::uint8_t { as_given, first };
  // How a refused value is reported: "bad value 'V' for --name: <why>", or <why> alone, one
  // "<program>: " line per line of it (the server's --config: the file's own errors, each
  // naming the file, line and key).
  enum class Report : std::uint8_t { bad_value, why_alone };

  // `program` starts every message ("ringcast: ..."); `description` heads --help.
  FlagParser(std::string program, std::string description);
  ~FlagParser();
  FlagParser(const FlagParser&) = delete;
  FlagParser& operator=(const FlagParser&) = delete;

  // Flags declared after this are listed under `heading` in --help.
  void group(std::string heading);
  // Text shown after the flags in --help.
  void footer(std::string text);

  // "--name VALUE" or "--name=VALUE". `metavar` names the value in --help ("N", "FILE").
  void option(std::string name, std::string metavar, std::string help, Apply apply,
              Order order = Order::as_given, Report report = Report::bad_value);
  // "--name" alone applies "true"; "--name=false" (or any "=V") applies V.
  void toggle(std::string name, std::string help, Apply apply);
  // The one positional word (ringcast-load's MODE). Required when declared.
  void positional(std::string name, std::string help, Apply apply);

  // Typed shorthands over option()/toggle(). Numbers are decimal digits only; ranges inclusive.
  void number(std::string name, std::uint32_t& out, std::uint32_t lo, std::uint32_t hi,
              std::string help, std::string metavar = "N");
  void number(std::string name, std::uint64_t& out, std::uint64_t lo, std::uint64_t hi,
              std::string help, std::string metavar = "N");
  void decimal(std::string name, double& out, double lo, double hi, std::string help,
               std::string metavar = "S");
  void text(std::string name, std::string& out, std::string help, std::string metavar = "TEXT");
  // "--name" sets `out` to `value` (no "=V" form).
  void set(std::string name, bool& out, bool value, std::string help);

  // Parses argv (argv[0] is the program). On help prints help() to stdout; on an error prints
  // "<program>: <message>" to stderr and keeps the message in error(). An unknown flag is
  // "unknown flag --x", a flag at the end without its value "--x needs a value".
  FlagsResult parse(int argc, const char* const* argv);
  std::string help() const;
  const std::string& error() const { return error_; }
  // Reports a usage error found after parse() (relations between flags) the same way.
  FlagsResult fail(std::string message);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string program_;
  std::string error_;
};

// Decimal digits only (no sign, no space, no base prefix), within [lo, hi].
bool parse_decimal(std::string_view text, std::uint64_t lo, std::uint64_t hi, std::uint64_t& out);
// A finite decimal number within [lo, hi] ("1.5", "1e3"; no "inf", no "nan").
bool parse_real(std::string_view text, double lo, double hi, double& out);

}  // namespace ringcast

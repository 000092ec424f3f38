#include "base/flags.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <vector>

#include "base/assert.h"

namespace ringcast {

namespace {

// Help lines as the programs printed them before: "  --name METAVAR" padded to a column, then
// the text. CLI11's own form would add the value's type and "(Env:...)"-style decorations.
// Descriptions wrap at kHelpWidth columns (CLI11 2.1 does not wrap; it indents after '\n').
class PlainFormatter : public CLI::Formatter {
 public:
  static constexpr std::size_t kColumn = 32, kHelpWidth = 100;
  PlainFormatter() { column_width(kColumn); }
  std::string make_option_opts(const CLI::Option* opt) const override {
    return opt->get_type_name().empty() ? std::string() : " " + opt->get_type_name();
  }
  std::string make_option_desc(const CLI::Option* opt) const override {
    const std::string& text = opt->get_description();
    std::string out;
    std::size_t line = 0;  // characters on the current output line
    for (std::size_t at = 0; at < text.size();) {
      const std::size_t end = std::min(text.find(' ', at), text.size());
      const std::size_t word = end - at;
      if (line > 0 && line + 1 + word > kHelpWidth - kColumn) {
        out += '\n';
        line = 0;
      } else if (line > 0) {
        out += ' ';
        ++line;
      }
      out.append(text, at, word);
      line += word;
      at = end + 1;
    }
    return out;
  }
};

std::string in_quotes(std::string_view value) { return "'" + std::string(value) + "'"; }

}  // namespace

struct FlagParser::Impl {
  struct Flag {
    CLI::Option* option;
    Apply apply;
    Order order;
    Report report;
  };
  CLI::App app;
  std::vector<Flag> flags;
  std::string group = "Options";

  explicit Impl(std::string description) : app(std::move(description)) {
    app.formatter(std::make_shared<PlainFormatter>());
    // Every value is kept as given (TakeAll: CLI11 neither merges nor refuses repeats); the
    // last one given wins because they are applied in order. No config-file or environment
    // support of CLI11's own: the server reads its TOML itself.
    app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    app.set_help_flag("-h,--help", "print this help and exit");
  }

  CLI::Option* add(CLI::Option* option, Apply apply, Order order, Report report = Report::bad_value) {
    RC_ASSERT(option != nullptr && apply);
    option->group(group);
    flags.push_back({option, std::move(apply), order, report});
    return option;
  }

  std::string refusal(const CLI::ParseError& e) const;

  std::size_t index_of(const CLI::Option* option) const {
    for (std::size_t i = 0; i < flags.size(); ++i)
      if (flags[i].option == option) return i;
    RC_ASSERT(false);  // every option but --help is ours, and --help never reaches here
    return 0;
  }
};

FlagParser::FlagParser(std::string program, std::string description)
    : impl_(std::make_unique<Impl>(std::move(description))), program_(std::move(program)) {
  impl_->app.name(program_);
}

FlagParser::~FlagParser() = default;

void FlagParser::group(std::string heading) { impl_->group = std::move(heading); }

void FlagParser::footer(std::string text) { impl_->app.footer(std::move(text)); }

void FlagParser::option(std::string name, std::string metavar, std::string help, Apply apply,
                        Order order, Report report) {
  RC_ASSERT(name.rfind("--", 0) == 0);
  CLI::Option* o = impl_->app.add_option(name)->description(std::move(help));
  o->type_name(std::move(metavar));
  impl_->add(o, std::move(apply), order, report);
}

void FlagParser::toggle(std::string name, std::string help, Apply apply) {
  RC_ASSERT(name.rfind("--", 0) == 0);
  impl_->add(impl_->app.add_flag(name)->description(std::move(help)), std::move(apply), Order::as_given);
}

void FlagParser::positional(std::string name, std::string help, Apply apply) {
  RC_ASSERT(!name.empty() && name[0] != '-');
  CLI::Option* o = impl_->app.add_option(name)->description(std::move(help));
  o->required();
  impl_->add(o, std::move(apply), Order::as_given);
}

void FlagParser::number(std::string name, std::uint32_t& out, std::uint32_t lo, std::uint32_t hi,
                        std::string help, std::string metavar) {
  option(std::move(name), std::move(metavar), std::move(help),
         [&out, lo, hi](std::string_view v, std::string& why) {
           std::uint64_t n;
           if (!parse_decimal(v, lo, hi, n)) {
             why = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
             return false;
           }
           out = static_cast<std::uint32_t>(n);
           return true;
         });
}

void FlagParser::number(std::string name, std::uint64_t& out, std::uint64_t lo, std::uint64_t hi,
                        std::string help, std::string metavar) {
  option(std::move(name), std::move(metavar), std::move(help),
         [&out, lo, hi](std::string_view v, std::string& why) {
           if (parse_decimal(v, lo, hi, out)) return true;
           why = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
           return false;
         });
}

void FlagParser::decimal(std::string name, double& out, double lo, double hi, std::string help,
                         std::string metavar) {
  option(std::move(name), std::move(metavar), std::move(help),
         [&out, lo, hi](std::string_view v, std::string& why) {
           if (parse_real(v, lo, hi, out)) return true;
           char text[96];
           std::snprintf(text, sizeof text, "a number from %g to %g", lo, hi);
           why = text;
           return false;
         });
}

void FlagParser::text(std::string name, std::string& out, std::string help, std::string metavar) {
  option(std::move(name), std::move(metavar), std::move(help),
         [&out](std::string_view v, std::string& why) {
           if (v.empty()) return why = "not empty", false;
           out = std::string(v);
           return true;
         });
}

void FlagParser::set(std::string name, bool& out, bool value, std::string help) {
  toggle(std::move(name), std::move(help), [&out, value](std::string_view v, std::string&) {
    if (v != "true") return false;  // "--name=..." is not a form of these
    out = value;
    return true;
  });
}

std::string FlagParser::help() const { return impl_->app.help(); }

FlagsResult FlagParser::fail(std::string message) {
  error_ = std::move(message);
  for (std::size_t at = 0, nl; at < error_.size(); at = nl + 1) {
    nl = std::min(error_.find('\n', at), error_.size());
    std::fprintf(stderr, "%s: %.*s\n", program_.c_str(), int(nl - at), error_.data() + at);
  }
  return FlagsResult::error;
}

// CLI11's words for what it refuses, in ours (the three programs' messages before CLI11).
std::string FlagParser::Impl::refusal(const CLI::ParseError& e) const {
  if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
    const std::vector<std::string> extra = app.remaining();
    RC_ASSERT(!extra.empty());
    return (extra[0].rfind("-", 0) == 0 ? "unknown flag " : "unexpected argument ") + extra[0] +
           " (see --help)";
  }
  if (dynamic_cast<const CLI::ArgumentMismatch*>(&e) != nullptr) {
    // "--history: 1 required N missing": the flag was the last argument.
    const std::string text = e.what();
    return text.substr(0, text.find(':')) + " needs a value (see --help)";
  }
  return std::string(e.what()) + " (see --help)";  // a missing positional ("MODE is required")
}

FlagsResult FlagParser::parse(int argc, const char* const* argv) {
  RC_ASSERT(argc >= 1);
  try {
    impl_->app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::fputs(help().c_str(), stdout);
    return FlagsResult::help;
  } catch (const CLI::ParseError& e) {
    // An unknown flag ("The following arguments were not expected: --bogus"), a flag without
    // its value ("--history: 1 required N missing"), a missing positional, ...
    return fail(impl_->refusal(e));
  }
  // The values in command-line order, `first` flags before the rest. parse_order() lists an
  // option once per value it took.
  for (const Order pass : {Order::first, Order::as_given}) {
    std::vector<std::size_t> used(impl_->flags.size(), 0);  // values of each flag seen so far
    for (const CLI::Option* option : impl_->app.parse_order()) {
      const std::size_t i = impl_->index_of(option);
      const std::size_t index = used[i]++;
      const Impl::Flag& flag = impl_->flags[i];
      if (flag.order != pass) continue;
      const std::vector<std::string>& values = option->results();
      RC_ASSERT(index < values.size());
      std::string why;
      if (flag.apply(values[index], why)) continue;
      if (flag.report == Report::why_alone) return fail(why);
      // "--history", or a positional's name
      return fail("bad value " + in_quotes(values[index]) + " for " + option->get_name() +
                  (why.empty() ? "" : ": want " + why) + " (see --help)");
    }
  }
  return FlagsResult::ok;
}

bool parse_decimal(std::string_view text, std::uint64_t lo, std::uint64_t hi, std::uint64_t& out) {
  if (text.empty() || text[0] < '0' || text[0] > '9') return false;  // from_chars takes '-'
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < lo || v > hi) return false;
  out = v;
  return true;
}

bool parse_real(std::string_view text, double lo, double hi, double& out) {
  double v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v) || v < lo || v > hi)
    return false;
  out = v;
  return true;
}

}  // namespace ringcast

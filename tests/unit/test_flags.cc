// base/flags.h: the one flag parser of the server, ringcast-load and kernel_floor.
#include "base/flags.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringcast {
namespace {

struct Settings {
  std::uint32_t streams = 10;
  std::uint64_t seed = 0;
  double rate = 0;
  std::string json;
  bool quiet = false;
  bool thread = true;
  std::vector<std::string> order;  // every applied value, in application order
};

// A parser with one flag of every kind.
struct Fixture {
  Settings s;
  FlagParser flags{"prog", "prog: a test program"};
  explicit Fixture(bool with_positional = false) {
    if (with_positional)
      flags.positional("MODE", "run or stop", [this](std::string_view v, std::string& why) {
        s.order.push_back("mode=" + std::string(v));
        return v == "run" || v == "stop" ? true : (why = "run or stop", false);
      });
    flags.number("--streams", s.streams, 1, 1000, "streams");
    flags.number("--seed", s.seed, 0, ~0ull, "seed");
    flags.decimal("--rate", s.rate, 0.001, 1e6, "rate");
    flags.text("--json", s.json, "report file", "FILE");
    flags.set("--quiet", s.quiet, true, "quiet");
    flags.set("--thread", s.thread, true, "a thread of its own");
    flags.set("--no-thread", s.thread, false, "no thread of its own");
    flags.option("--config", "FILE", "loaded first", [this](std::string_view v, std::string& why) {
      s.order.push_back("config=" + std::string(v));
      if (v == "bad.toml") return why = "bad.toml:1:1: unknown key 'x'\nbad.toml:2:1: unknown key 'y'", false;
      return true;
    }, FlagParser::Order::first, FlagParser::Report::why_alone);
    flags.toggle("--admin", "admin", [this](std::string_view v, std::string& why) {
      s.order.push_back("admin=" + std::string(v));
      return v == "true" || v == "false" ? true : (why = "true or false", false);
    });
  }
  FlagsResult parse(std::vector<std::string> args) {
    args.insert(args.begin(), "prog");
    std::vector<const char*> argv;
    for (const std::string& a : args) argv.push_back(a.c_str());
    return flags.parse(int(argv.size()), argv.data());
  }
};

TEST(Flags, EveryKindWithBothSpellings) {
  Fixture f;
  ASSERT_EQ(f.parse({"--streams", "12", "--seed=18446744073709551615", "--rate", "2.5", "--json",
                     "r.json", "--quiet", "--no-thread", "--admin=false"}),
            FlagsResult::ok)
      << f.flags.error();
  EXPECT_EQ(f.s.streams, 12u);
  EXPECT_EQ(f.s.seed, ~0ull);
  EXPECT_EQ(f.s.rate, 2.5);
  EXPECT_EQ(f.s.json, "r.json");
  EXPECT_TRUE(f.s.quiet);
  EXPECT_FALSE(f.s.thread);
  EXPECT_EQ(f.s.order, (std::vector<std::string>{"admin=false"}));
}

TEST(Flags, NothingGivenKeepsTheDefaults) {
  Fixture f;
  ASSERT_EQ(f.parse({}), FlagsResult::ok);
  EXPECT_EQ(f.s.streams, 10u);
  EXPECT_TRUE(f.s.thread);
}

TEST(Flags, ValuesApplyInCommandLineOrderAndTheLastWins) {
  Fixture f;
  ASSERT_EQ(f.parse({"--no-thread", "--streams", "5", "--thread", "--streams", "7", "--admin",
                     "--admin=false"}),
            FlagsResult::ok);
  EXPECT_EQ(f.s.streams, 7u);
  EXPECT_TRUE(f.s.thread);
  EXPECT_EQ(f.s.order, (std::vector<std::string>{"admin=true", "admin=false"}));
}

TEST(Flags, FirstFlagsApplyBeforeTheOthersWhereverTheyStand) {
  Fixture f;
  ASSERT_EQ(f.parse({"--admin", "--config", "a.toml"}), FlagsResult::ok);
  EXPECT_EQ(f.s.order, (std::vector<std::string>{"config=a.toml", "admin=true"}));
}

TEST(Flags, UnknownFlagIsNamed) {
  Fixture f;
  EXPECT_EQ(f.parse({"--streams", "3", "--bogus", "1"}), FlagsResult::error);
  EXPECT_EQ(f.flags.error(), "unknown flag --bogus (see --help)");
  Fixture g;
  EXPECT_EQ(g.parse({"stray"}), FlagsResult::error);
  EXPECT_EQ(g.flags.error(), "unexpected argument stray (see --help)");
}

TEST(Flags, MissingValueIsNamed) {
  Fixture f;
  EXPECT_EQ(f.parse({"--quiet", "--streams"}), FlagsResult::error);
  EXPECT_EQ(f.flags.error(), "--streams needs a value (see --help)");
}

TEST(Flags, OutOfRangeAndMalformedNumbersAreRefusedWithTheirRange) {
  const std::vector<std::string> bad = {"0", "1001", "-1", "abc", "", "1.5", "010x", "0x10", " 5", "+5"};
  for (const std::string& v : bad) {
    Fixture f;
    EXPECT_EQ(f.parse({"--streams", v}), FlagsResult::error) << v;
    EXPECT_EQ(f.flags.error(),
              "bad value '" + v + "' for --streams: want an integer from 1 to 1000 (see --help)");
    EXPECT_EQ(f.s.streams, 10u) << v;
  }
  // Decimal only: CLI11's own conversion would read "010" as octal 8.
  Fixture f;
  ASSERT_EQ(f.parse({"--streams", "010"}), FlagsResult::ok);
  EXPECT_EQ(f.s.streams, 10u);
  for (const std::string v : {"inf", "nan", "0", "1e7", "x"}) {
    Fixture r;
    EXPECT_EQ(r.parse({"--rate", v}), FlagsResult::error) << v;
    EXPECT_NE(r.flags.error().find("--rate"), std::string::npos);
  }
}

TEST(Flags, ValuesMayStartWithADash) {
  // The value after a flag is taken as it is (as before CLI11): "-5" is refused by the range
  // check, not mistaken for a short flag.
  Fixture f;
  EXPECT_EQ(f.parse({"--json", "-"}), FlagsResult::ok);
  EXPECT_EQ(f.s.json, "-");
}

TEST(Flags, SwitchesRefuseAValueTheyDoNotKnow) {
  Fixture f;
  EXPECT_EQ(f.parse({"--quiet=yes"}), FlagsResult::error);
  EXPECT_NE(f.flags.error().find("--quiet"), std::string::npos);
  Fixture g;
  EXPECT_EQ(g.parse({"--admin=maybe"}), FlagsResult::error);
  EXPECT_EQ(g.flags.error(), "bad value 'maybe' for --admin: want true or false (see --help)");
}

TEST(Flags, AReasonAloneIsReportedAsIs) {
  Fixture f;
  EXPECT_EQ(f.parse({"--config", "bad.toml"}), FlagsResult::error);
  EXPECT_EQ(f.flags.error(), "bad.toml:1:1: unknown key 'x'\nbad.toml:2:1: unknown key 'y'");
}

TEST(Flags, Positional) {
  Fixture f(true);
  ASSERT_EQ(f.parse({"--streams", "4", "run"}), FlagsResult::ok);
  EXPECT_EQ(f.s.order, (std::vector<std::string>{"mode=run"}));
  Fixture missing(true);
  EXPECT_EQ(missing.parse({"--streams", "4"}), FlagsResult::error);
  EXPECT_NE(missing.flags.error().find("MODE"), std::string::npos) << missing.flags.error();
  Fixture bad(true);
  EXPECT_EQ(bad.parse({"fly"}), FlagsResult::error);
  EXPECT_EQ(bad.flags.error(), "bad value 'fly' for MODE: want run or stop (see --help)");
}

TEST(Flags, HelpListsEveryFlagWithItsValueName) {
  Fixture f;
  EXPECT_EQ(f.parse({"--streams", "3", "--help"}), FlagsResult::help);
  const std::string help = f.flags.help();
  for (const char* line : {"  --streams N ", "  --json FILE ", "  --quiet ", "  --no-thread ",
                           "  --config FILE ", "  -h,--help "})
    EXPECT_NE(help.find(line), std::string::npos) << line << "\n" << help;
}

TEST(Flags, LongHelpWraps) {
  FlagParser flags("prog", "d");
  std::string unused;
  flags.text("--x", unused, std::string(40, 'a') + " " + std::string(40, 'b'));
  const std::string help = flags.help();
  EXPECT_NE(help.find(std::string(40, 'a') + "\n"), std::string::npos) << help;
}

TEST(Flags, ParseDecimalAndReal) {
  std::uint64_t n = 0;
  EXPECT_TRUE(parse_decimal("0", 0, 5, n));
  EXPECT_FALSE(parse_decimal("18446744073709551616", 0, ~0ull, n));  // overflow
  double d = 0;
  EXPECT_TRUE(parse_real("1e3", 0, 1e4, d));
  EXPECT_EQ(d, 1000);
  EXPECT_FALSE(parse_real("-0.5", 0, 1, d));
}

}  // namespace
}  // namespace ringcast

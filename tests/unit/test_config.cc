// Config: flags, the TOML config file and --print-config walk the same flag tables.
#include "server/config.h"

#include <gtest/gtest.h>

#include <set>

namespace ringcast {
namespace {

int parse(std::vector<std::string> args, Config& config) {
  args.insert(args.begin(), "ringcast");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return parse_flags(int(argv.size()), argv.data(), config);
}

TEST(ConfigFile, EveryFlagOfTheUsageHasAKeyInPrintConfig) {
  // A flag listed by --help but missing from the tables would have no TOML key.
  const std::string text = usage(), printed = print_config(Config{});
  std::set<std::string> flags;
  // A flag's line starts "  --name"; wrapped help text is indented further (and may mention
  // another flag, as "prefer --publish-token-file" does).
  for (std::size_t at = text.find("\n  --"); at != std::string::npos; at = text.find("\n  --", at + 1)) {
    const std::size_t end = text.find_first_of(" \n", at + 5);
    flags.insert(text.substr(at + 5, end - at - 5));
  }
  flags.erase("config");
  flags.erase("print-config");
  flags.erase("print-routes");
  EXPECT_GE(flags.size(), 30u);
  for (const std::string& f : flags) {
    // Unset text settings (empty) are printed commented out.
    const bool found = printed.find("\n" + f + " = ") != std::string::npos ||
                       printed.find("\n# " + f + " = ") != std::string::npos;
    EXPECT_TRUE(found) << f;
  }
}

// Issue #15: --print-config must not reveal a secret (it ends up in tickets and chat logs).
TEST(ConfigFile, PrintConfigRedactsSecrets) {
  Config c;
  ASSERT_EQ(parse({"--publish-token", "pub-s3cret-value", "--redis", "127.0.0.1:6379", "--redis-password",
                   "redis-s3cret-value"},
                  c),
            kFlagsOk);
  const std::string printed = print_config(c);
  EXPECT_EQ(printed.find("s3cret"), std::string::npos) << printed;
  EXPECT_NE(printed.find("# publish-token = \"<redacted>\""), std::string::npos) << printed;
  EXPECT_NE(printed.find("# redis-password = \"<redacted>\""), std::string::npos) << printed;
}

TEST(ConfigFile, SecretAndSecretFileAreAlternatives) {
  Config c;
  ASSERT_EQ(parse({"--publish-token", "a", "--publish-token-file", "/nonexistent"}, c), kFlagsOk);
  EXPECT_NE(validate(c).find("alternatives"), std::string::npos);
}

TEST(ConfigFile, PrintConfigRoundTrips) {
  Config changed;
  ASSERT_EQ(parse({"--listen", "127.0.0.1:9", "--heartbeat-ms", "2000", "--enable-admin",
                   "--slow-consumer", "skip", "--stream-recv", "off", "--log-level", "debug",
                   "--poll-timeout-ms", "700"},
                  changed),
            kFlagsOk);
  const std::string printed = print_config(changed);
  Config loaded;
  ASSERT_EQ(load_config_text(printed, "printed", loaded), "");
  EXPECT_EQ(print_config(loaded), printed);
  EXPECT_EQ(loaded.listen_host, "127.0.0.1");
  EXPECT_EQ(loaded.listen_port, 9);
  EXPECT_EQ(loaded.heartbeat_ms, 2000u);
  EXPECT_TRUE(loaded.enable_admin);
  EXPECT_EQ(loaded.slow_consumer, SlowConsumerPolicy::skip);
  EXPECT_FALSE(loaded.stream_recv);
  EXPECT_EQ(loaded.log_level, "debug");
  EXPECT_EQ(loaded.poll_timeout_ms, 700u);
}

TEST(ConfigFile, ReadsEveryKind) {
  Config c;
  EXPECT_EQ(load_config_text("history = 16\nio = \"epoll\"\nenable-admin = true\n", "t", c), "");
  EXPECT_EQ(c.history, 16u);
  EXPECT_EQ(c.io, IoBackend::epoll);
  EXPECT_TRUE(c.enable_admin);
}

TEST(ConfigFile, ErrorsNameTheKeyAndTheLine) {
  Config c;
  EXPECT_EQ(load_config_text("\n\nnope = 1\n", "f.toml", c),
            "f.toml:3:1: unknown key 'nope' (keys are the flag names without '--')");
  EXPECT_EQ(load_config_text("heartbeat-ms = 5\n", "f.toml", c),
            "f.toml:1:1: key 'heartbeat-ms' must be an integer from 100 to 1073741823");
  EXPECT_EQ(load_config_text("heartbeat-ms = \"soon\"\n", "f.toml", c),
            "f.toml:1:1: key 'heartbeat-ms' must be an integer");
  EXPECT_EQ(load_config_text("io = 1\n", "f.toml", c), "f.toml:1:1: key 'io' must be a string");
  EXPECT_EQ(load_config_text("io = \"kqueue\"\n", "f.toml", c),
            "f.toml:1:1: key 'io': bad value 'kqueue'");
  EXPECT_EQ(load_config_text("enable-admin = 1\n", "f.toml", c),
            "f.toml:1:1: key 'enable-admin' must be true or false");
  EXPECT_EQ(load_config_text("[server]\nshards = 1\n", "f.toml", c),
            "f.toml:1:2: unknown key 'server' (keys are the flag names without '--')");
  // A syntax error carries toml++'s position and description.
  const std::string syntax = load_config_text("history = \n", "f.toml", c);
  EXPECT_EQ(syntax.rfind("f.toml:1:", 0), 0u) << syntax;
  // Every bad key is reported, in file order (the table itself iterates sorted by key).
  EXPECT_EQ(load_config_text("zzz = 1\naaa = 2\n", "f.toml", c),
            "f.toml:1:1: unknown key 'zzz' (keys are the flag names without '--')\n"
            "f.toml:2:1: unknown key 'aaa' (keys are the flag names without '--')");
}

TEST(ConfigFile, FlagsOverrideTheFile) {
  const std::string path = ::testing::TempDir() + "ringcast_test_config.toml";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("heartbeat-ms = 2000\nhistory = 7\n", f);
  std::fclose(f);
  Config c;
  // The flag wins whether it comes before or after --config.
  ASSERT_EQ(parse({"--heartbeat-ms", "3000", "--config", path}, c), kFlagsOk);
  EXPECT_EQ(c.heartbeat_ms, 3000u);
  EXPECT_EQ(c.history, 7u);
  std::remove(path.c_str());
}

TEST(ConfigFlags, SwitchesAndPrintConfig) {
  Config c;
  EXPECT_EQ(parse({"--enable-admin", "--print-config"}, c), kFlagsPrintConfig);
  EXPECT_TRUE(c.enable_admin);
  Config d;
  EXPECT_EQ(parse({"--enable-admin=false"}, d), kFlagsOk);
  EXPECT_FALSE(d.enable_admin);
  EXPECT_EQ(parse({"--no-such-flag", "1"}, d), kFlagsError);
  EXPECT_EQ(parse({"--config", "/nonexistent/ringcast.toml"}, d), kFlagsError);
}

}  // namespace
}  // namespace ringcast

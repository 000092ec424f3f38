// UTF-8 validation: a table of named cases, exhaustive checks of short sequences against
// an independent reference (decode by bit structure, then check the code point), and every
// code point through a simple reference encoder.
#include "http/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace ringcast::http {
namespace {

// Encodes `cp` in exactly `len` bytes using the UTF-8 bit layout, without checking that
// the form is minimal or the value legal, so it can also build overlongs, surrogates and
// values past U+10FFFF.
std::string encode(std::uint32_t cp, int len) {
  std::string s;
  switch (len) {
    case 1: s += static_cast<char>(cp); break;
    case 2:
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
      break;
    case 3:
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
      break;
    default:
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
      break;
  }
  return s;
}

int minimal_length(std::uint32_t cp) {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

bool is_surrogate(std::uint32_t cp) { return cp >= 0xD800 && cp <= 0xDFFF; }

// Slow reference validator straight from RFC 3629's definition: the lead byte's high bits
// give the length, continuation bytes are 10xxxxxx, and the decoded value must be minimal,
// at most U+10FFFF and not a surrogate.
bool reference_valid(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    int len;
    std::uint32_t cp;
    if (b0 < 0x80) { len = 1; cp = b0; }
    else if ((b0 >> 5) == 0x6) { len = 2; cp = b0 & 0x1F; }
    else if ((b0 >> 4) == 0xE) { len = 3; cp = b0 & 0x0F; }
    else if ((b0 >> 3) == 0x1E) { len = 4; cp = b0 & 0x07; }
    else return false;
    if (i + static_cast<std::size_t>(len) > s.size()) return false;
    for (int k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
      if ((b >> 6) != 0x2) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (minimal_length(cp) != len || cp > 0x10FFFF || is_surrogate(cp)) return false;
    i += static_cast<std::size_t>(len);
  }
  return true;
}

struct Utf8Case {
  const char* name;
  std::string bytes;
  bool valid;
};

class Utf8Table : public ::testing::TestWithParam<Utf8Case> {};

TEST_P(Utf8Table, Validates) {
  const Utf8Case& c = GetParam();
  EXPECT_EQ(valid_utf8(c.bytes), c.valid);
  EXPECT_EQ(reference_valid(c.bytes), c.valid);  // keeps the reference honest too
}

INSTANTIATE_TEST_SUITE_P(
    Table, Utf8Table,
    ::testing::Values(
        Utf8Case{"Empty", "", true},
        Utf8Case{"Ascii", "{\"msg\":\"hello\"}", true},
        Utf8Case{"Nul", std::string("a\0b", 3), true},
        Utf8Case{"TwoByte", "caf\xc3\xa9", true},
        Utf8Case{"ThreeByte", "\xe2\x82\xac", true},
        Utf8Case{"FourByte", "\xf0\x9f\x98\x80", true},
        Utf8Case{"SmallestTwoByte", "\xc2\x80", true},
        Utf8Case{"SmallestThreeByte", "\xe0\xa0\x80", true},
        Utf8Case{"SmallestFourByte", "\xf0\x90\x80\x80", true},
        Utf8Case{"LastBeforeSurrogates", "\xed\x9f\xbf", true},
        Utf8Case{"FirstAfterSurrogates", "\xee\x80\x80", true},
        Utf8Case{"Bom", "\xef\xbb\xbf", true},
        Utf8Case{"Ufffe", "\xef\xbf\xbe", true},  // noncharacters are still well-formed
        Utf8Case{"MaxCodePoint", "\xf4\x8f\xbf\xbf", true},
        Utf8Case{"OverlongSlashC0", "\xc0\xaf", false},
        Utf8Case{"OverlongNulC0", "\xc0\x80", false},
        Utf8Case{"OverlongC1", "\xc1\xbf", false},
        Utf8Case{"OverlongThreeByte", "\xe0\x80\xaf", false},
        Utf8Case{"OverlongThreeByteMax", "\xe0\x9f\xbf", false},
        Utf8Case{"OverlongFourByte", "\xf0\x80\x80\xaf", false},
        Utf8Case{"OverlongFourByteMax", "\xf0\x8f\xbf\xbf", false},
        Utf8Case{"HighSurrogate", "\xed\xa0\x80", false},
        Utf8Case{"LowSurrogate", "\xed\xbf\xbf", false},
        Utf8Case{"SurrogatePair", "\xed\xa0\xbd\xed\xb8\x80", false},
        Utf8Case{"AboveMax", "\xf4\x90\x80\x80", false},
        Utf8Case{"LeadF5", "\xf5\x80\x80\x80", false},
        Utf8Case{"LeadF8FiveByte", "\xf8\x88\x80\x80\x80", false},
        Utf8Case{"LeadFC", "\xfc\x84\x80\x80\x80\x80", false},
        Utf8Case{"LeadFE", "\xfe", false},
        Utf8Case{"LeadFF", "\xff", false},
        Utf8Case{"StrayContinuation", "a\x80", false},
        Utf8Case{"StrayContinuationBF", "\xbf", false},
        Utf8Case{"ContinuationAfterComplete", "\xc3\xa9\xa9", false},
        Utf8Case{"TruncatedTwo", "\xc3", false},
        Utf8Case{"TruncatedThree", "\xe2\x82", false},
        Utf8Case{"TruncatedFour", "\xf0\x9f\x98", false},
        Utf8Case{"TruncatedThenAscii", "\xe2\x82" "a", false},
        Utf8Case{"TruncatedFourThenAscii", "\xf0\x9f\x98" "abc", false},
        Utf8Case{"LeadThenLead", "\xc3\xc3\xa9", false},
        Utf8Case{"Latin1", "caf\xe9", false},
        Utf8Case{"Cesu8", "\xed\xa0\x81\xed\xb0\x80", false}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Utf8Exhaustive, AllOneByteSequences) {
  for (int b = 0; b < 256; ++b) {
    const char c = static_cast<char>(b);
    EXPECT_EQ(valid_utf8(std::string_view(&c, 1)), b < 0x80) << b;
  }
}

TEST(Utf8Exhaustive, AllTwoByteSequences) {
  for (int b0 = 0; b0 < 256; ++b0) {
    for (int b1 = 0; b1 < 256; ++b1) {
      const char s[2] = {static_cast<char>(b0), static_cast<char>(b1)};
      const bool expected =
          (b0 < 0x80 && b1 < 0x80) || (b0 >= 0xC2 && b0 <= 0xDF && b1 >= 0x80 && b1 <= 0xBF);
      ASSERT_EQ(valid_utf8(std::string_view(s, 2)), expected) << b0 << " " << b1;
      ASSERT_EQ(reference_valid(std::string_view(s, 2)), expected) << b0 << " " << b1;
    }
  }
}

TEST(Utf8Exhaustive, AllThreeByteSequencesWithNonAsciiLead) {
  for (int b0 = 0x80; b0 < 256; ++b0) {
    for (int b1 = 0; b1 < 256; ++b1) {
      for (int b2 = 0; b2 < 256; ++b2) {
        const char s[3] = {static_cast<char>(b0), static_cast<char>(b1), static_cast<char>(b2)};
        const std::string_view v(s, 3);
        ASSERT_EQ(valid_utf8(v), reference_valid(v)) << b0 << " " << b1 << " " << b2;
      }
    }
  }
}

TEST(Utf8Exhaustive, EveryCodePointMinimallyEncoded) {
  std::string all;  // also validate everything at once, through the ASCII fast path
  for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const std::string s = encode(cp, minimal_length(cp));
    ASSERT_EQ(valid_utf8(s), !is_surrogate(cp)) << std::hex << cp;
    if (!is_surrogate(cp)) all += s;
  }
  EXPECT_TRUE(valid_utf8(all));
  all += encode(0xD800, 3);
  EXPECT_FALSE(valid_utf8(all));
}

TEST(Utf8Exhaustive, EveryOverlongEncodingRejected) {
  for (std::uint32_t cp = 0; cp < 0x10000; ++cp) {
    for (int len = minimal_length(cp) + 1; len <= 4; ++len) {
      ASSERT_FALSE(valid_utf8(encode(cp, len))) << std::hex << cp << " in " << len;
    }
  }
}

TEST(Utf8Exhaustive, EveryFourByteValueAboveMaxRejected) {
  for (std::uint32_t cp = 0x110000; cp <= 0x1FFFFF; ++cp) {
    ASSERT_FALSE(valid_utf8(encode(cp, 4))) << std::hex << cp;
  }
}

TEST(Utf8Exhaustive, EveryTruncationRejected) {
  for (std::uint32_t cp = 0x80; cp <= 0x10FFFF; cp += 7) {
    if (is_surrogate(cp)) continue;
    const std::string s = encode(cp, minimal_length(cp));
    for (std::size_t n = 1; n < s.size(); ++n) {
      // A view that cuts a complete sequence: the bytes after the cut are real
      // continuation bytes, so reading past the end of the view would accept it.
      ASSERT_FALSE(valid_utf8(std::string_view(s).substr(0, n)))
          << std::hex << cp << " cut at " << n;
      ASSERT_FALSE(valid_utf8(s.substr(0, n) + "abcdefgh")) << std::hex << cp;
    }
  }
}

// The 8-bytes-at-a-time ASCII path must not skip a bad byte or split a sequence wrongly,
// whatever the byte's offset.
TEST(Utf8Positions, BadByteAtEveryOffset) {
  for (std::size_t len = 1; len <= 40; ++len) {
    for (std::size_t at = 0; at < len; ++at) {
      std::string s(len, 'a');
      s[at] = '\x80';
      ASSERT_FALSE(valid_utf8(s)) << len << " " << at;
      s[at] = '\xff';
      ASSERT_FALSE(valid_utf8(s)) << len << " " << at;
    }
  }
}

TEST(Utf8Positions, SequenceAtEveryOffset) {
  for (const std::string seq : {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80"}) {
    for (std::size_t before = 0; before <= 17; ++before) {
      const std::string s = std::string(before, 'x') + seq + std::string(17 - before, 'y');
      ASSERT_TRUE(valid_utf8(s)) << before;
      // Cut at the very end of the buffer: truncated.
      ASSERT_FALSE(valid_utf8(std::string(before, 'x') + seq.substr(0, seq.size() - 1)))
          << before;
    }
  }
}

}  // namespace
}  // namespace ringcast::http

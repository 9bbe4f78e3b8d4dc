#include "tools/flags.h"

#include <gtest/gtest.h>

#include <vector>

namespace edgebed::tools {
namespace {

struct Args {
  explicit Args(std::vector<std::string> words) : words_(std::move(words)) {
    for (auto& w : words_) ptrs_.push_back(w.data());
  }
  int argc() { return static_cast<int>(ptrs_.size()); }
  char** argv() { return ptrs_.data(); }
  std::vector<std::string> words_;
  std::vector<char*> ptrs_;
};

struct Parsed {
  int64_t n = 3;
  double x = 0.5;
  std::string s = "a";
  std::chrono::nanoseconds d = std::chrono::seconds(1);
  std::vector<std::string> files, rest;
  bool verbose = false;
  int rc = 0;
  std::string err;
};

Parsed ParseWords(std::vector<std::string> words, bool positional = false) {
  Parsed p;
  Flags flags("cmd", "test");
  flags.Int("count", "a number", &p.n);
  flags.Double("rate", "a rate", &p.x);
  flags.String("name", "a name", &p.s);
  flags.Duration("duration", "a time", &p.d);
  flags.Repeated("filename", "f", "files", &p.files);
  flags.Bool("verbose", "say more", &p.verbose);
  if (positional) flags.Positional("WORDS", &p.rest);
  words.insert(words.begin(), "cmd");
  Args args(words);
  ::testing::internal::CaptureStderr();
  ::testing::internal::CaptureStdout();
  p.rc = flags.Parse(args.argc(), args.argv());
  p.err = ::testing::internal::GetCapturedStderr();
  (void)::testing::internal::GetCapturedStdout();
  return p;
}

TEST(Flags, ParsesEveryKindInBothSpellings) {
  Parsed p = ParseWords({"--count", "7", "--rate=0.25", "--name", "x", "--duration=250ms", "-f",
                         "a.yaml", "--filename", "b.yaml"});
  EXPECT_EQ(p.rc, -1);
  EXPECT_EQ(p.n, 7);
  EXPECT_DOUBLE_EQ(p.x, 0.25);
  EXPECT_EQ(p.s, "x");
  EXPECT_EQ(p.d, std::chrono::milliseconds(250));
  EXPECT_EQ(p.files, (std::vector<std::string>{"a.yaml", "b.yaml"}));
}

TEST(Flags, SwitchesTakeNoValueButAcceptAnExplicitOne) {
  EXPECT_FALSE(ParseWords({}).verbose);
  Parsed p = ParseWords({"--verbose", "--count", "4"});
  EXPECT_EQ(p.rc, -1);
  EXPECT_TRUE(p.verbose);
  EXPECT_EQ(p.n, 4);
  EXPECT_FALSE(ParseWords({"--verbose=false"}).verbose);
  p = ParseWords({"--verbose=yes"});
  EXPECT_EQ(p.rc, 2);
  EXPECT_NE(p.err.find("--verbose: \"yes\" is not true or false"), std::string::npos) << p.err;
}

TEST(Flags, HelpExitsZero) { EXPECT_EQ(ParseWords({"--help"}).rc, 0); }

TEST(Flags, BadUsageExitsTwoAndNamesTheFix) {
  Parsed typo = ParseWords({"--cuont", "3"});
  EXPECT_EQ(typo.rc, 2);
  EXPECT_EQ(typo.err, "cmd: unknown flag '--cuont'; did you mean '--count'?\nRun 'cmd --help' for the flags.\n");
  Parsed missing = ParseWords({"--count"});
  EXPECT_EQ(missing.rc, 2);
  EXPECT_NE(missing.err.find("flag '--count' needs a value"), std::string::npos);
  Parsed nan = ParseWords({"--count", "3x"});
  EXPECT_NE(nan.err.find("--count: \"3x\" is not a whole number"), std::string::npos);
  Parsed unit = ParseWords({"--duration", "5"});
  EXPECT_NE(unit.err.find("--duration: \"5\" has no unit"), std::string::npos);
  EXPECT_EQ(ParseWords({"stray"}).rc, 2);
  Parsed pos = ParseWords({"stray", "--count=1"}, true);
  EXPECT_EQ(pos.rc, -1);
  EXPECT_EQ(pos.rest, std::vector<std::string>{"stray"});
}

}  // namespace
}  // namespace edgebed::tools

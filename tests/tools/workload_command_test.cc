// edgebed workload: bad usage is refused with a message that names the flag
// and exit code 2, before anything listens or connects. Needs no root.
#include "tools/workload_command.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace edgebed::tools {
namespace {

struct Result {
  int rc = 0;
  std::string err;
};

Result Workload(std::vector<std::string> words) {
  words.insert(words.begin(), "workload");
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  ::testing::internal::CaptureStderr();
  ::testing::internal::CaptureStdout();
  Result r;
  r.rc = RunWorkload(static_cast<int>(argv.size()), argv.data());
  r.err = ::testing::internal::GetCapturedStderr();
  ::testing::internal::GetCapturedStdout();
  return r;
}

struct BadUsage {
  std::vector<std::string> words;
  std::string says;  // part of the message
};

TEST(WorkloadCommand, BadUsageExitsTwoNamingTheFlag) {
  const std::vector<BadUsage> cases = {
      {{}, "missing program"},
      {{"bogus"}, "unknown program 'bogus'"},
      {{"serve"}, "give at least one port"},
      {{"serve", "--tcp", "80,x"}, "--tcp: \"x\" is not a port number"},
      {{"serve", "--udp", "70000"}, "--udp: \"70000\" is not a port number"},
      {{"serve", "--tcp"}, "--tcp"},
      {{"serve", "--port", "80"}, "--port"},
      {{"probe"}, "--to is required"},
      {{"probe", "--to", "10.0.0.1"}, "--to: \"10.0.0.1\" is not ADDRESS:PORT"},
      {{"probe", "--to", "host.example:80"}, "is not an IP address"},
      {{"probe", "--to", "10.0.0.1:80", "--proto", "sctp"}, "--proto \"sctp\" is neither tcp nor udp"},
      {{"probe", "--to", "10.0.0.1:80", "--count", "0"}, "--count must be at least 1"},
      {{"probe", "--to", "10.0.0.1:80", "--timeout", "soon"}, "--timeout"},
      {{"sensor", "--topic", "t"}, "--broker is required"},
      {{"sensor", "--broker", "10.0.0.1:1883"}, "--topic is required"},
      {{"sensor", "--broker", "10.0.0.1:1883", "--topic", "a b"}, "may not contain spaces"},
      {{"broker"}, "--listen is required"},
      {{"broker", "--listen", "1883", "--forward", "x:y"}, "--forward"},
  };
  for (const BadUsage& c : cases) {
    const Result r = Workload(c.words);
    EXPECT_EQ(r.rc, 2) << ::testing::PrintToString(c.words) << ": " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << ::testing::PrintToString(c.words) << ": " << r.err;
  }
}

TEST(WorkloadCommand, HelpExitsZero) {
  for (const char* program : {"serve", "probe", "sensor", "broker"}) EXPECT_EQ(Workload({program, "--help"}).rc, 0) << program;
  EXPECT_EQ(Workload({"--help"}).rc, 0);
}

TEST(WorkloadCommand, AStoreThatCannotBeWrittenIsAnErrorNamingIt) {
  const Result r = Workload({"broker", "--listen", "1", "--store", "/nonexistent/dir"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_NE(r.err.find("--store: cannot open /nonexistent/dir/messages.log"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace edgebed::tools

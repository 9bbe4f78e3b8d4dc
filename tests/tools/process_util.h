// Helpers for the end-to-end tests that run edgebed's programs as a user
// does: a shell command's outcome, a daemon process with its log, waiting
// for a condition with a bound.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace edgebed::tools {

struct Outcome {
  int exit_code;
  std::string out;  // stdout and stderr together
};

inline Outcome Shell(const std::string& command) {
  Outcome o{-1, ""};
  FILE* p = ::popen((command + " 2>&1").c_str(), "r");
  if (!p) return o;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) o.out.append(buf, n);
  const int status = ::pclose(p);
  o.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return o;
}

inline std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Polls `done` until it holds or `limit` passes; returns whether it held.
inline bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

// A process (argv[0] looked up on PATH) in a process group of its own, its
// stdout and stderr appended to `log`; SIGKILLed when it goes out of scope.
class Daemon {
 public:
  Daemon(std::vector<std::string> argv, std::filesystem::path log) : log_(std::move(log)) {
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      if (std::freopen(log_.c_str(), "a", stderr)) ::dup2(::fileno(stderr), ::fileno(stdout));
      std::vector<char*> args;
      for (std::string& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      ::execvp(args[0], args.data());
      _exit(127);
    }
  }
  ~Daemon() { Stop(SIGKILL); }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Signals it and waits for it: its exit code, or -1 when a signal ended it.
  int Stop(int signo = SIGTERM) {
    if (pid_ <= 0) return exit_;
    ::kill(pid_, signo);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return exit_;
  }
  std::string log() const { return ReadFile(log_); }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  int exit_ = -1;
};

}  // namespace edgebed::tools

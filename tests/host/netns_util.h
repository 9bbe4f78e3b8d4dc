// Helpers for tests and benchmarks that build network namespaces: a quiet
// shell command, and running code in a thread that entered a namespace.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <thread>

namespace edgebed::host {

// Runs `cmd` with its output discarded; its exit status.
inline int Sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

// Runs `fn` in a thread that has entered network namespace `ns` (by its
// name under /var/run/netns); a default value if it cannot. Sockets made in
// it stay in that namespace wherever they are used later.
template <typename Fn>
auto InNamespace(const std::string& ns, Fn fn) -> decltype(fn()) {
  decltype(fn()) result{};
  std::thread t([&] {
    const int fd = ::open(("/var/run/netns/" + ns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) {
      if (fd >= 0) ::close(fd);
      return;
    }
    ::close(fd);
    result = fn();
  });
  t.join();
  return result;
}

}  // namespace edgebed::host

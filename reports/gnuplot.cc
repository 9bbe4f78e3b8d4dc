#include "reports/gnuplot.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace edgebed::reports {
namespace {

constexpr const char* kInstallHint =
    "install it (Debian: apt-get install -y gnuplot-nox; ./build.sh installs it too), "
    "or name the program with --gnuplot PATH";

void CloseFd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Pipes whose ends are closed on every path out of RunGnuplot.
struct Pipe {
  int read = -1, write = -1;
  ~Pipe() {
    CloseFd(read);
    CloseFd(write);
  }
  bool Open() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return false;
    read = fds[0];
    write = fds[1];
    return true;
  }
};

// Blocks SIGPIPE for this thread while the script is written, so that a child
// that exits early gives EPIPE instead of killing the process; a SIGPIPE left
// pending is consumed before the mask is restored.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  ~SigpipeBlock() {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) && !sigismember(&old_, SIGPIPE)) {
      const timespec zero{0, 0};
      sigtimedwait(&pipe_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_, old_;
};

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

StatusOr<std::string> RunGnuplot(const std::string& script, const GnuplotOptions& options) {
  const std::string where = options.program;
  Pipe in, out, err, exec_status;
  if (!in.Open() || !out.Open() || !err.Open() || !exec_status.Open()) {
    return IoError(std::string("cannot make pipes to run gnuplot: ") + std::strerror(errno) +
                       "; raise the limit of open files (ulimit -n)",
                   where);
  }
  SigpipeBlock block_sigpipe;
  const pid_t pid = ::fork();
  if (pid < 0) {
    return IoError(std::string("cannot start gnuplot: fork: ") + std::strerror(errno) +
                       "; free memory or processes and try again",
                   where);
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls until exec.
    ::dup2(in.read, STDIN_FILENO);
    ::dup2(out.write, STDOUT_FILENO);
    ::dup2(err.write, STDERR_FILENO);
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, nullptr);
    const char* argv[] = {options.program.c_str(), nullptr};
    ::execvp(argv[0], const_cast<char* const*>(argv));
    const int e = errno;
    (void)!::write(exec_status.write, &e, sizeof e);
    ::_exit(127);
  }
  CloseFd(in.read);
  CloseFd(out.write);
  CloseFd(err.write);
  CloseFd(exec_status.write);

  // exec_status closes on a successful exec (O_CLOEXEC) or carries errno.
  int exec_errno = 0;
  ssize_t n;
  do n = ::read(exec_status.read, &exec_errno, sizeof exec_errno);
  while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (exec_errno == ENOENT) {
      return NotFound("gnuplot is not installed (no program '" + options.program + "' in PATH); " +
                          kInstallHint,
                      where);
    }
    return NotFound(std::string("cannot run gnuplot: ") + std::strerror(exec_errno) + "; " + kInstallHint,
                    where);
  }

  ::fcntl(in.write, F_SETFL, O_NONBLOCK);
  std::string svg, diagnostics;
  size_t written = 0;
  if (script.empty()) CloseFd(in.write);
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  bool timed_out = false;
  char buf[65536];
  while (out.read >= 0 || err.read >= 0) {
    std::vector<pollfd> fds;
    if (in.write >= 0) fds.push_back({in.write, POLLOUT, 0});
    if (out.read >= 0) fds.push_back({out.read, POLLIN, 0});
    if (err.read >= 0) fds.push_back({err.read, POLLIN, 0});
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (ready < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (const pollfd& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == in.write) {
        const ssize_t w = ::write(in.write, script.data() + written, script.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == script.size()) CloseFd(in.write);
        continue;
      }
      const bool is_out = p.fd == out.read;
      const ssize_t r = ::read(p.fd, buf, sizeof buf);
      if (r > 0) {
        (is_out ? svg : diagnostics).append(buf, static_cast<size_t>(r));
      } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
        CloseFd(is_out ? out.read : err.read);
      }
    }
  }
  CloseFd(in.write);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return Status(StatusCode::kDeadlineExceeded,
                  "gnuplot took longer than " + std::to_string(options.timeout.count()) +
                      " ms and was stopped; plot fewer points, or check that the program is gnuplot",
                  where);
  }
  if (WIFSIGNALED(status)) {
    return IoError("gnuplot was killed by signal " + std::to_string(WTERMSIG(status)) + ": " +
                       Trim(diagnostics) + "; check the gnuplot installation",
                   where);
  }
  if (WEXITSTATUS(status) != 0) {
    return InvalidArgument("gnuplot rejected the plot script (exit " + std::to_string(WEXITSTATUS(status)) +
                               "): " + Trim(diagnostics) +
                               "; this is a bug in the report's script, or a gnuplot older than 5.2",
                           where);
  }
  return svg;
}

}  // namespace edgebed::reports

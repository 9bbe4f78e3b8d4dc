#include "core/host/process_runtime.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <net/if.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/base/hash.h"
#include "core/base/ip.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace edgebed::host {
namespace fs = std::filesystem;
using cluster::PodPhase;
using cluster::PodReport;
using cluster::PodRun;
using Clock = std::chrono::steady_clock;

namespace {

// Removes a pod's directory without ever descending into another filesystem:
// a volume still mounted under it (a detach that failed, a mount left by a
// crashed agent) keeps its data.
void RemoveTree(const std::string& root) {
  struct stat top {};
  if (::lstat(root.c_str(), &top) != 0) return;
  std::function<void(const std::string&)> remove = [&](const std::string& path) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      // A FUSE mount whose server died (an agent killed before it detached
      // the volume): nothing can be lost by detaching it.
      if (errno == ENOTCONN && ::umount2(path.c_str(), MNT_DETACH) == 0) ::rmdir(path.c_str());
      return;
    }
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != top.st_dev) return;  // a mount point: leave it and what it holds
      std::error_code ec;
      std::vector<std::string> children;
      for (const auto& e : std::filesystem::directory_iterator(path, ec)) children.push_back(e.path().string());
      for (const std::string& c : children) remove(c);
      ::rmdir(path.c_str());
    } else {
      ::unlink(path.c_str());
    }
  };
  remove(root);
}

constexpr const char* kGateway = "169.254.1.1";
constexpr const char* kHostMac = "ee:ee:ee:ee:ee:ee";  // Calico's, on every host veth
constexpr int kUnknownExit = 137;                      // the kubelet's, for a lost container
constexpr auto kPollEvery = std::chrono::milliseconds(20);
constexpr auto kKillWait = std::chrono::seconds(5);  // after SIGKILL, before giving up

std::string Errno(int e) { return std::strerror(e); }

// Field `field` (1-based, as proc(5) counts) of /proc/<pid>/stat.
std::optional<std::string> StatField(pid_t pid, int field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(paren + 1));
  std::string word;
  for (int f = 3; rest >> word; ++f)
    if (f == field) return word;
  return std::nullopt;
}

// The start time (clock ticks after boot) of `pid`, or nothing if it is gone.
std::optional<uint64_t> StartTicks(pid_t pid) {
  auto s = StatField(pid, 22);
  if (!s) return std::nullopt;
  return std::strtoull(s->c_str(), nullptr, 10);
}

// True if `pid` runs and is the process that started at `ticks`.
bool SameProcess(pid_t pid, uint64_t ticks) {
  if (pid <= 0) return false;
  auto state = StatField(pid, 3);
  if (!state || *state == "Z" || *state == "X") return false;
  auto t = StartTicks(pid);
  return t && *t == ticks;
}

// True if any live (not zombie) process is in process group `pgid`.
bool GroupAlive(pid_t pgid) {
  if (pgid <= 0) return false;
  if (::kill(-pgid, 0) != 0 && errno == ESRCH) return false;
  DIR* d = ::opendir("/proc");
  if (!d) return true;
  bool alive = false;
  while (dirent* e = ::readdir(d)) {
    if (!std::isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    auto pgrp = StatField(pid, 5);
    if (!pgrp || std::atoi(pgrp->c_str()) != pgid) continue;
    auto state = StatField(pid, 3);
    if (state && *state != "Z" && *state != "X") {
      alive = true;
      break;
    }
  }
  ::closedir(d);
  return alive;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// The last `lines` non-empty lines of a file, joined by "; ".
std::string Tail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) all.push_back(line);
  std::string out;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i)
    out += (out.empty() ? "" : "; ") + all[i];
  return out;
}

// An executable named by a container's command: a path (relative ones from
// the working directory), or a name looked up in `path_list`.
StatusOr<std::string> ResolveExecutable(const std::string& name, const std::string& path_list,
                                        const std::string& working_dir) {
  if (name.find('/') != std::string::npos) {
    const std::string full = name[0] == '/' ? name : working_dir + "/" + name;
    if (::access(full.c_str(), X_OK) != 0)
      return NotFound("\"" + full + "\" is not an executable file (" + Errno(errno) + ")", "command[0]");
    return full;
  }
  std::istringstream dirs(path_list);
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (dir.empty()) continue;
    const std::string full = dir + "/" + name;
    struct stat st {};
    if (::stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(full.c_str(), X_OK) == 0) return full;
  }
  return NotFound("executable \"" + name + "\" not found in $PATH (" + path_list +
                      "); give an absolute path or set PATH in the container's env",
                  "command[0]");
}

struct SpawnRequest {
  std::string path;
  std::vector<std::string> argv, env;
  std::string working_dir = "/";
  std::string log_path;
  std::string netns_path;  // empty: stay in the caller's network namespace
};

// fork + exec in a new session. Only async-signal-safe calls run in the
// child; a failure there comes back through a close-on-exec pipe.
StatusOr<pid_t> Spawn(const SpawnRequest& r) {
  const int log_fd = ::open(r.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return IoError("cannot open the log " + r.log_path + ": " + Errno(errno), r.log_path);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int ns_fd = -1;
  if (!r.netns_path.empty()) {
    ns_fd = ::open(r.netns_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (ns_fd < 0) {
      const int e = errno;
      ::close(log_fd);
      if (null_fd >= 0) ::close(null_fd);
      return IoError("cannot open the network namespace " + r.netns_path + ": " + Errno(e), r.netns_path);
    }
  }
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    const int e = errno;
    ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    if (ns_fd >= 0) ::close(ns_fd);
    return IoError("pipe2: " + Errno(e));
  }
  std::vector<char*> argv, envp;
  for (const std::string& a : r.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const std::string& e : r.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  const char* path = r.path.c_str();
  const char* wd = r.working_dir.c_str();

  const pid_t pid = ::fork();
  if (pid == 0) {
    const int err_fd = pipe_fds[1];
    auto fail = [err_fd](int stage) {
      const int msg[2] = {stage, errno};
      (void)!::write(err_fd, msg, sizeof msg);
      ::_exit(127);
    };
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    for (int s = 1; s < NSIG; ++s) ::sigaction(s, &dfl, nullptr);
    if (::setsid() < 0) fail(0);
    if (ns_fd >= 0 && ::setns(ns_fd, CLONE_NEWNET) != 0) fail(1);
    if (null_fd >= 0 && ::dup2(null_fd, 0) < 0) fail(2);
    if (::dup2(log_fd, 1) < 0 || ::dup2(log_fd, 2) < 0) fail(2);
    if (::chdir(wd) != 0) fail(3);
    // Nothing of the agent's (sockets, files) may leak into a container.
    if (::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
      for (int fd = 3; fd < 4096; ++fd) ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    ::execve(path, argv.data(), envp.data());
    fail(4);
  }
  const int fork_errno = errno;
  ::close(pipe_fds[1]);
  ::close(log_fd);
  if (null_fd >= 0) ::close(null_fd);
  if (ns_fd >= 0) ::close(ns_fd);
  if (pid < 0) {
    ::close(pipe_fds[0]);
    return IoError("fork: " + Errno(fork_errno));
  }
  int msg[2] = {0, 0};
  ssize_t got;
  do {
    got = ::read(pipe_fds[0], msg, sizeof msg);
  } while (got < 0 && errno == EINTR);
  ::close(pipe_fds[0]);
  if (got == static_cast<ssize_t>(sizeof msg)) {
    ::waitpid(pid, nullptr, 0);  // it has _exit'ed or is about to
    std::string what;
    switch (msg[0]) {
      case 0: what = "setsid"; break;
      case 1: what = "setns into " + r.netns_path; break;
      case 2: what = "redirecting stdin/stdout/stderr to " + r.log_path; break;
      case 3: what = "chdir to " + r.working_dir; break;
      default: what = "exec " + r.path; break;
    }
    return IoError(what + " failed: " + Errno(msg[1]));
  }
  return pid;
}

// Never 0 or 1: kill(0) and kill(-1) would reach far more than a pod.
void KillGroup(pid_t pgid, int sig) {
  if (pgid > 1) ::kill(-pgid, sig);
}

// The kubelet's expansion of a command or argument: $(NAME) becomes the
// value of NAME in the container's env, $$ becomes $, and a reference to a
// name not there stays as written.
std::string Expand(const std::string& text, const std::map<std::string, std::string>& env) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      out += text[i];
      continue;
    }
    if (text[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    const size_t close = text[i + 1] == '(' ? text.find(')', i + 2) : std::string::npos;
    if (close == std::string::npos) {
      out += text[i];
      continue;
    }
    auto it = env.find(text.substr(i + 2, close - i - 2));
    out += it != env.end() ? it->second : text.substr(i, close - i + 1);
    i = close;
  }
  return out;
}

int ExitCodeOf(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return kUnknownExit;
}

}  // namespace

std::string VolumeEnvName(const std::string& claim) {
  std::string out = "EDGEBED_VOLUME_";
  for (char c : claim) {
    const unsigned char u = static_cast<unsigned char>(std::toupper(static_cast<unsigned char>(c)));
    out += (std::isalnum(u) && u < 128) ? static_cast<char>(u) : '_';
  }
  return out;
}

// ---- the implementation -----------------------------------------------------------------

struct ProcessRuntime::Impl : std::enable_shared_from_this<Impl> {
  // A process we watch; its process group has its pid as id.
  struct Proc {
    pid_t pid = 0;
    uint64_t start_ticks = 0;
    std::shared_ptr<boost::asio::posix::stream_descriptor> pidfd;
  };
  struct ContainerRun {
    model::Container spec;
    Proc proc;
    bool running = false, done = false, adopted = false;
    std::optional<int> last_exit;
    uint32_t restarts = 0;
    std::shared_ptr<boost::asio::steady_timer> backoff;
  };
  enum class Stage { kWaiting, kNetwork, kRunning, kFinished };
  struct Pod {
    PodRun run;
    std::string key, netns, veth, ip, dir;
    uint64_t generation = 0;
    Stage stage = Stage::kWaiting;
    Proc setup;  // the network script while it runs
    std::vector<ContainerRun> containers;
    std::vector<std::pair<cluster::VolumeMount, std::string>> mounted;
    PodReport last_report;
    std::string message;
  };
  // A pod on its way out (or a leftover Cleanup found).
  struct Stopping {
    std::string key, netns, veth, ip, dir;
    std::vector<Proc> procs;
    std::optional<PodRun> run;
    std::vector<std::pair<cluster::VolumeMount, std::string>> mounted;
    Clock::time_point kill_at;
    bool killed = false;
    Clock::time_point give_up_at;
    std::shared_ptr<boost::asio::steady_timer> timer;
    std::vector<std::function<void()>> done;
  };
  // What <pod dir>/state holds.
  struct SavedContainer {
    pid_t pid = 0;
    uint64_t ticks = 0;
    uint32_t restarts = 0;
    bool done = false;
    std::optional<int> exit;
  };
  struct Saved {
    std::string key, netns, veth, ip;
    std::map<std::string, SavedContainer> containers;
  };

  Impl(boost::asio::io_context& io_, ProcessRuntimeOptions o) : io(io_), options(std::move(o)) {}

  boost::asio::io_context& io;
  ProcessRuntimeOptions options;
  std::string ip_path;
  Reporter reporter;
  std::map<std::string, Pod> pods;
  std::map<std::string, Stopping> stopping;
  int scripts_running = 0;
  uint64_t next_generation = 1;

  // ---- names -----------------------------------------------------------------------------

  std::string Netns(const std::string& key) const {
    return options.netns_prefix + Hex(Hash64(key.data(), key.size()), 12);
  }
  std::string Veth(const std::string& key) const {
    const std::string seeded = options.netns_prefix + "|" + key;
    return "eb" + Hex(Hash64(seeded.data(), seeded.size()), 10);
  }
  std::string Dir(const std::string& key) const {
    std::string name = key;
    const size_t slash = name.find('/');
    if (slash != std::string::npos) name[slash] = '_';
    return options.data_dir + "/pods/" + name;
  }
  static std::string NetnsPath(const std::string& netns) { return "/run/netns/" + netns; }

  // ---- reports ---------------------------------------------------------------------------

  uint32_t Restarts(const Pod& p) const {
    uint32_t n = 0;
    for (const ContainerRun& c : p.containers) n += c.restarts;
    return n;
  }
  void Report(Pod& p, PodPhase phase, const std::string& reason) {
    int32_t exit_code = 0;
    if (reason == "Error" || reason == "CrashLoopBackOff") {
      for (const ContainerRun& c : p.containers)
        if (c.last_exit && *c.last_exit != 0) exit_code = *c.last_exit;
    }
    p.last_report = PodReport{phase, reason, Restarts(p), exit_code};
    std::weak_ptr<Impl> weak = shared_from_this();
    const std::string key = p.key;
    const uint64_t gen = p.generation;
    const PodReport report = p.last_report;
    boost::asio::post(io, [weak, key, gen, report] {
      auto self = weak.lock();
      if (!self) return;
      auto it = self->pods.find(key);
      if (it == self->pods.end() || it->second.generation != gen || !self->reporter) return;
      self->reporter(key, report);
    });
  }
  void Fail(Pod& p, const std::string& reason, const std::string& message) {
    p.stage = Stage::kFinished;
    p.message = message;
    std::ofstream(p.dir + "/events.log", std::ios::app) << reason << ": " << message << "\n";
    Report(p, PodPhase::kFailed, reason);
  }
  Pod* Find(const std::string& key, uint64_t gen) {
    auto it = pods.find(key);
    return it != pods.end() && it->second.generation == gen ? &it->second : nullptr;
  }

  // ---- watching processes ----------------------------------------------------------------

  // Calls `exited(code)` on the io_context once `proc` ends. False if it
  // cannot be watched (it is gone already).
  // With `hold`, the watch keeps itself alive until the process ends;
  // without, dropping proc.pidfd ends it.
  bool Watch(Proc& proc, std::function<void(int)> exited, bool hold = false) {
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, proc.pid, 0));
    if (fd < 0) return false;
    auto sd = std::make_shared<boost::asio::posix::stream_descriptor>(io, fd);
    proc.pidfd = sd;
    std::weak_ptr<Impl> weak = shared_from_this();
    const pid_t pid = proc.pid;
    std::shared_ptr<boost::asio::posix::stream_descriptor> held = hold ? sd : nullptr;
    sd->async_wait(boost::asio::posix::stream_descriptor::wait_read,
                   [weak, pid, exited, held](const boost::system::error_code& ec) {
                     if (ec) return;  // closed: the pod was stopped
                     auto self = weak.lock();
                     if (!self) return;
                     int code = kUnknownExit;
                     int st = 0;
                     // Also for one adopted: it may yet be a child of this process.
                     if (::waitpid(pid, &st, WNOHANG) == pid) code = ExitCodeOf(st);
                     exited(code);
                   });
    return true;
  }

  // Runs `script` under /bin/sh -e -x (in this namespace), its output
  // appended to `log`; `done(exit code)` on the io_context.
  void RunScript(const std::string& script, const std::string& log, Proc* into,
                 std::function<void(int, const std::string&)> done) {
    SpawnRequest r;
    r.path = "/bin/sh";
    r.argv = {"sh", "-e", "-x", "-c", script};
    r.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"};
    r.log_path = log;
    StatusOr<pid_t> pid = Spawn(r);
    if (!pid.ok()) {
      const std::string why = pid.status().ToString();
      boost::asio::post(io, [done, why] { done(126, why); });
      return;
    }
    Proc local;
    Proc& proc = into ? *into : local;
    proc = Proc{*pid, StartTicks(*pid).value_or(0), nullptr};
    ++scripts_running;
    auto counted = [this, done](int code) {
      --scripts_running;
      done(code, "");
    };
    if (!Watch(proc, counted, /*hold=*/true)) {
      int st = 0;
      ::waitpid(*pid, &st, 0);
      const int code = ExitCodeOf(st);
      boost::asio::post(io, [counted, code] { counted(code); });
      return;
    }
  }

  std::string SetupScript(const std::string& netns, const std::string& veth, const std::string& ip) const {
    const std::string IP = ShellQuote(ip_path);
    std::ostringstream s;
    s << IP << " link del " << veth << " 2>/dev/null || true\n"
      << IP << " netns del " << netns << " 2>/dev/null || true\n"
      << IP << " netns add " << netns << "\n"
      << IP << " link add name " << veth << " type veth peer name eth0 netns " << netns << "\n"
      << IP << " link set " << veth << " address " << kHostMac << "\n"
      << "echo 1 > /proc/sys/net/ipv4/conf/" << veth << "/proxy_arp\n"
      << "echo 0 > /proc/sys/net/ipv4/neigh/" << veth << "/proxy_delay\n"
      << "echo 1 > /proc/sys/net/ipv4/ip_forward\n"
      << IP << " link set " << veth << " up\n"
      << IP << " -n " << netns << " link set lo up\n"
      << IP << " -n " << netns << " addr add " << ip << "/32 dev eth0\n"
      << IP << " -n " << netns << " link set eth0 up\n"
      << IP << " -n " << netns << " route add default via " << kGateway << " dev eth0 onlink\n"
      << IP << " -n " << netns << " neigh replace " << kGateway << " lladdr " << kHostMac
      << " dev eth0 nud permanent\n"
      << IP << " route replace " << ip << "/32 dev " << veth << "\n";
    return s.str();
  }
  std::string TeardownScript(const std::string& netns, const std::string& veth, const std::string& ip) const {
    const std::string IP = ShellQuote(ip_path);
    std::ostringstream s;
    if (!ip.empty() && !veth.empty()) s << IP << " route del " << ip << "/32 dev " << veth << " 2>/dev/null || true\n";
    if (!veth.empty()) s << IP << " link del " << veth << " 2>/dev/null || true\n";
    if (!netns.empty()) s << IP << " netns del " << netns << " 2>/dev/null || true\n";
    s << "true\n";
    return s.str();
  }

  // ---- state on disk -----------------------------------------------------------------------

  void Save(const Pod& p) {
    std::ostringstream s;
    s << "key " << p.key << "\nnetns " << p.netns << "\nveth " << p.veth << "\nip " << p.ip << "\n";
    for (const ContainerRun& c : p.containers) {
      s << "container " << c.spec.name << " " << (c.running ? c.proc.pid : 0) << " "
        << (c.running ? c.proc.start_ticks : 0) << " " << c.restarts << " " << (c.done ? 1 : 0) << " "
        << (c.last_exit ? std::to_string(*c.last_exit) : "-") << "\n";
    }
    const std::string path = p.dir + "/state", tmp = path + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return;
    const std::string text = s.str();
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
    ::close(fd);
    if (ok) ::rename(tmp.c_str(), path.c_str());
  }
  static std::optional<Saved> Load(const std::string& dir) {
    std::ifstream in(dir + "/state");
    if (!in) return std::nullopt;
    Saved s;
    for (std::string line; std::getline(in, line);) {
      std::istringstream w(line);
      std::string what;
      w >> what;
      if (what == "key") w >> s.key;
      else if (what == "netns") w >> s.netns;
      else if (what == "veth") w >> s.veth;
      else if (what == "ip") w >> s.ip;
      else if (what == "container") {
        std::string name, exit;
        SavedContainer c;
        int done = 0;
        if (!(w >> name >> c.pid >> c.ticks >> c.restarts >> done >> exit)) continue;
        c.done = done != 0;
        if (exit != "-") c.exit = std::atoi(exit.c_str());
        s.containers[name] = c;
      }
    }
    if (s.key.empty()) return std::nullopt;
    return s;
  }

  // ---- starting --------------------------------------------------------------------------

  void Start(const PodRun& run) {
    const std::string key = run.key();
    if (pods.count(key)) Stop(key, {});
    Pod& p = pods[key];
    p.run = run;
    p.key = key;
    p.generation = next_generation++;
    p.netns = Netns(key);
    p.veth = Veth(key);
    p.dir = Dir(key);
    for (const model::Container& c : run.pod.spec.containers) p.containers.push_back(ContainerRun{c, {}, false, false, false, {}, 0, nullptr});
    Report(p, PodPhase::kPending, "ContainerCreating");
    std::error_code ec;
    fs::create_directories(p.dir, ec);
    if (ec) return Fail(p, "CreateContainerConfigError", "cannot create " + p.dir + ": " + ec.message());
    if (std::string why = Check(p); !why.empty()) return Fail(p, "CreateContainerConfigError", why);
    if (stopping.count(key)) return;  // waits for the old one to be gone (stage kWaiting)
    BeginSetup(p);
  }

  // Why the pod cannot run as given, or "".
  std::string Check(Pod& p) {
    const std::string where = p.run.pod.meta.pos.ToString();
    if (p.run.pod.pod_ips.empty())
      return "pod " + p.key + " has no status.podIP; the agent runs only pods the server gave an address";
    IpPrefix ip;
    if (!ParseIpAddress(p.run.pod.pod_ips[0], &ip) || ip.family != 4)
      return "status.podIP \"" + p.run.pod.pod_ips[0] + "\" of pod " + p.key + " is not an IPv4 address";
    p.ip = p.run.pod.pod_ips[0];
    if (p.containers.empty()) return "pod " + p.key + " has no containers";
    for (size_t i = 0; i < p.containers.size(); ++i) {
      if (p.containers[i].spec.command.empty())
        return "spec.containers[" + std::to_string(i) + "].command of pod " + p.key + " (" + where +
               ") is empty; images are names only here, so give the program to run as command";
    }
    return "";
  }

  void BeginSetup(Pod& p) {
    if (std::optional<Saved> saved = Load(p.dir)) {
      // A pod with volumes whose mounts ended with the process that served
      // them is not adopted: its containers start again on new mounts.
      const bool volumes = !options.mounts_outlive_runtime && options.mount_volume && !p.run.volumes.empty();
      if (!volumes && saved->key == p.key && saved->ip == p.ip && saved->netns == p.netns && saved->veth == p.veth &&
          ::access(NetnsPath(p.netns).c_str(), F_OK) == 0 && ::if_nametoindex(p.veth.c_str()) != 0)
        return Adopt(p, *saved);
      for (const auto& entry : saved->containers)
        if (SameProcess(entry.second.pid, entry.second.ticks)) KillGroup(entry.second.pid, SIGKILL);
    }
    p.stage = Stage::kNetwork;
    const std::string log = p.dir + "/network.log";
    const std::string key = p.key;
    const uint64_t gen = p.generation;
    RunScript(SetupScript(p.netns, p.veth, p.ip), log, &p.setup, [this, key, gen, log](int code, const std::string& why) {
      Pod* pod = Find(key, gen);
      if (!pod || pod->stage != Stage::kNetwork) return;
      pod->setup = Proc{};
      if (code != 0) {
        return Fail(*pod, "FailedCreatePodSandBox",
                    "setting up the network of " + key + " failed (exit " + std::to_string(code) + "): " +
                        (why.empty() ? Tail(log, 2) : why) + "; see " + log);
      }
      Launch(*pod);
    });
  }

  // Mounts the volumes one after another (the hook answers later, on the
  // io thread), then goes on with `then`; a volume that cannot be mounted
  // fails the pod. A mount that completes for a pod stopped meanwhile is
  // unmounted at once.
  void MountVolumes(Pod& p, std::function<void(Pod&)> then) {
    p.mounted.clear();
    if (!options.mount_volume || p.run.volumes.empty()) return then(p);
    MountNext(p.key, p.generation, 0, std::move(then));
  }

  void MountNext(const std::string& key, uint64_t gen, size_t i, std::function<void(Pod&)> then) {
    Pod* p = Find(key, gen);
    if (!p) return;
    if (i == p->run.volumes.size()) return then(*p);
    const cluster::VolumeMount v = p->run.volumes[i];
    const PodRun run = p->run;
    std::weak_ptr<Impl> weak = shared_from_this();
    options.mount_volume(run, v, [weak, key, gen, i, v, run, then](StatusOr<std::string> dir) {
      auto self = weak.lock();
      if (!self) return;
      Pod* pod = self->Find(key, gen);
      if (!pod) {
        if (dir.ok() && self->options.unmount_volume) self->options.unmount_volume(run, v, *dir, [] {});
        return;
      }
      if (!dir.ok()) {
        return self->Fail(*pod, "FailedMount",
                          "volume " + v.volume + " (claim " + v.claim + "): " + dir.status().ToString());
      }
      pod->mounted.emplace_back(v, *dir);
      self->MountNext(key, gen, i + 1, then);
    });
  }


  std::map<std::string, std::string> EnvOf(const Pod& p, const model::Container& c) const {
    std::map<std::string, std::string> env;
    env["PATH"] = options.container_path;
    env["HOSTNAME"] = p.run.pod.meta.name;
    env["POD_NAME"] = p.run.pod.meta.name;
    env["POD_NAMESPACE"] = p.run.pod.meta.namespace_;
    env["POD_IP"] = p.ip;
    env["NODE_NAME"] = options.node_name.empty() ? p.run.pod.spec.node_name : options.node_name;
    for (const auto& m : p.mounted) env[VolumeEnvName(m.first.claim)] = m.second;
    for (const auto& kv : c.env) env[kv.first] = kv.second;  // the manifest's own word wins
    return env;
  }

  // Starts container `i`; the error says what failed.
  Status SpawnContainer(Pod& p, size_t i) {
    ContainerRun& c = p.containers[i];
    SpawnRequest r;
    const std::map<std::string, std::string> env = EnvOf(p, c.spec);
    for (const auto& kv : env) r.env.push_back(kv.first + "=" + kv.second);
    for (const std::string& word : c.spec.command) r.argv.push_back(Expand(word, env));
    for (const std::string& word : c.spec.args) r.argv.push_back(Expand(word, env));
    r.working_dir = c.spec.working_dir.empty() ? "/" : c.spec.working_dir;
    StatusOr<std::string> exe = ResolveExecutable(r.argv[0], env.at("PATH"), r.working_dir);
    if (!exe.ok()) return Status(exe.status()).WithContext("container " + c.spec.name);
    r.path = *exe;
    r.log_path = p.dir + "/" + c.spec.name + ".log";
    r.netns_path = NetnsPath(p.netns);
    StatusOr<pid_t> pid = Spawn(r);
    if (!pid.ok()) return Status(pid.status()).WithContext("container " + c.spec.name);
    c.proc = Proc{*pid, StartTicks(*pid).value_or(0), nullptr};
    c.running = true;
    c.adopted = false;
    WatchContainer(p, i);
    return Status::Ok();
  }

  void WatchContainer(Pod& p, size_t i) {
    const std::string key = p.key;
    const uint64_t gen = p.generation;
    if (!Watch(p.containers[i].proc, [this, key, gen, i](int code) { Exited(key, gen, i, code); })) {
      // Gone before it could be watched: reap it now and treat it as an exit.
      int st = 0, code = kUnknownExit;
      if (::waitpid(p.containers[i].proc.pid, &st, WNOHANG) > 0) code = ExitCodeOf(st);
      boost::asio::post(io, [this, weak = std::weak_ptr<Impl>(shared_from_this()), key, gen, i, code] {
        if (weak.lock()) Exited(key, gen, i, code);
      });
    }
  }

  void Launch(Pod& p) {
    MountVolumes(p, [this](Pod& pod) { LaunchMounted(pod); });
  }

  void LaunchMounted(Pod& p) {
    for (size_t i = 0; i < p.containers.size(); ++i) {
      Status s = SpawnContainer(p, i);
      if (!s.ok()) {
        for (ContainerRun& c : p.containers) {
          if (!c.running) continue;
          KillGroup(c.proc.pid, SIGKILL);
          c.proc.pidfd.reset();
          ::waitpid(c.proc.pid, nullptr, 0);
          c.running = false;
          c.proc = Proc{};
        }
        Save(p);
        return Fail(p, "StartError", s.ToString());
      }
    }
    p.stage = Stage::kRunning;
    Save(p);
    Report(p, PodPhase::kRunning, "Started");
  }

  void Adopt(Pod& p, const Saved& saved) {
    MountVolumes(p, [this, saved](Pod& pod) { AdoptMounted(pod, saved); });
  }

  void AdoptMounted(Pod& p, const Saved& saved) {
    p.stage = Stage::kRunning;
    for (size_t i = 0; i < p.containers.size(); ++i) {
      ContainerRun& c = p.containers[i];
      auto s = saved.containers.find(c.spec.name);
      if (s != saved.containers.end()) {
        c.restarts = s->second.restarts;
        c.last_exit = s->second.exit;
        c.done = s->second.done;
        if (c.done) continue;
        if (SameProcess(s->second.pid, s->second.ticks)) {
          c.proc = Proc{s->second.pid, s->second.ticks, nullptr};
          c.running = true;
          c.adopted = true;
          WatchContainer(p, i);
          continue;
        }
        ++c.restarts;  // it ran before and is gone: this start is a restart
      }
      if (Status st = SpawnContainer(p, i); !st.ok()) {
        Save(p);
        return Fail(p, "StartError", st.ToString());
      }
    }
    Save(p);
    if (AllDone(p)) return Finish(p);
    Report(p, PodPhase::kRunning, "Started");
  }

  // ---- exits and restarts ------------------------------------------------------------------

  static bool AllDone(const Pod& p) {
    return std::all_of(p.containers.begin(), p.containers.end(), [](const ContainerRun& c) { return c.done; });
  }
  void Finish(Pod& p) {
    p.stage = Stage::kFinished;
    const bool ok = std::all_of(p.containers.begin(), p.containers.end(),
                                [](const ContainerRun& c) { return c.last_exit && *c.last_exit == 0; });
    if (ok) return Report(p, PodPhase::kSucceeded, "Completed");
    for (const ContainerRun& c : p.containers)
      if (c.last_exit && *c.last_exit != 0) {
        p.message = "container " + c.spec.name + " exited with code " + std::to_string(*c.last_exit);
        break;
      }
    Report(p, PodPhase::kFailed, "Error");
  }

  void Exited(const std::string& key, uint64_t gen, size_t i, int code) {
    Pod* p = Find(key, gen);
    if (!p || i >= p->containers.size()) return;
    ContainerRun& c = p->containers[i];
    if (!c.running) return;
    // As when a container's first process ends: nothing it started outlives it.
    KillGroup(c.proc.pid, SIGKILL);
    c.running = false;
    c.proc = Proc{};
    c.last_exit = code;
    std::ofstream(p->dir + "/events.log", std::ios::app)
        << "container " << c.spec.name << " exited with code " << code << "\n";
    const std::string& policy = p->run.pod.spec.restart_policy;
    const bool restart = policy == "Always" || (policy == "OnFailure" && code != 0);
    if (!restart) {
      c.done = true;
      Save(*p);
      if (AllDone(*p)) Finish(*p);
      return;
    }
    // The kubelet's crash-loop back-off: doubled for each restart, capped.
    auto delay = options.backoff_initial * (int64_t{1} << std::min<uint32_t>(c.restarts, 20));
    if (delay > options.backoff_max || delay.count() < 0) delay = options.backoff_max;
    Save(*p);
    Report(*p, PodPhase::kRunning, "CrashLoopBackOff");
    c.backoff = std::make_shared<boost::asio::steady_timer>(io, delay);
    std::weak_ptr<Impl> weak = shared_from_this();
    c.backoff->async_wait([weak, key, gen, i](const boost::system::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self) return;
      self->Restart(key, gen, i);
    });
  }

  void Restart(const std::string& key, uint64_t gen, size_t i) {
    Pod* p = Find(key, gen);
    if (!p) return;
    ContainerRun& c = p->containers[i];
    c.backoff.reset();
    ++c.restarts;
    if (Status s = SpawnContainer(*p, i); !s.ok()) {
      std::ofstream(p->dir + "/events.log", std::ios::app) << "StartError: " << s.ToString() << "\n";
      p->message = s.ToString();
      // As containerd does: a start that fails is an exit with 128, under the same policy.
      c.running = true;
      c.proc = Proc{};
      return Exited(key, gen, i, 128);
    }
    Save(*p);
    const bool all_up = std::all_of(p->containers.begin(), p->containers.end(),
                                    [](const ContainerRun& x) { return x.running || x.done; });
    Report(*p, PodPhase::kRunning, all_up ? "Started" : "CrashLoopBackOff");
  }

  // ---- stopping ----------------------------------------------------------------------------

  void Stop(const std::string& key, std::function<void()> done) {
    auto it = pods.find(key);
    if (it == pods.end() || it->second.stage == Stage::kWaiting) {
      if (it != pods.end()) pods.erase(it);
      auto s = stopping.find(key);
      if (s != stopping.end()) {
        if (done) s->second.done.push_back(std::move(done));
      } else if (done) {
        boost::asio::post(io, std::move(done));
      }
      return;
    }
    Pod& p = it->second;
    Stopping s;
    s.key = key;
    s.netns = p.netns;
    s.veth = p.veth;
    s.ip = p.ip;
    s.dir = p.dir;
    s.run = p.run;
    s.mounted = p.mounted;
    if (p.setup.pid > 0) s.procs.push_back(p.setup);
    for (ContainerRun& c : p.containers) {
      if (c.backoff) c.backoff->cancel();
      if (c.running) s.procs.push_back(c.proc);
    }
    if (done) s.done.push_back(std::move(done));
    // Network made only if setup began; the teardown is harmless otherwise.
    if (p.stage == Stage::kFinished && p.ip.empty()) s.netns.clear(), s.veth.clear();
    pods.erase(it);
    BeginStopping(std::move(s));
  }

  void BeginStopping(Stopping s) {
    for (Proc& proc : s.procs) {
      proc.pidfd.reset();  // the exit watch ends; we poll from here on
      KillGroup(proc.pid, SIGTERM);
    }
    auto existing = stopping.find(s.key);
    if (existing != stopping.end()) {  // e.g. a pod that never ran, stopped while its predecessor goes
      Stopping& e = existing->second;
      e.procs.insert(e.procs.end(), s.procs.begin(), s.procs.end());
      for (auto& fn : s.done) e.done.push_back(std::move(fn));
      return;
    }
    s.kill_at = Clock::now() + options.grace_period;
    s.timer = std::make_shared<boost::asio::steady_timer>(io);
    const std::string key = s.key;
    stopping[key] = std::move(s);
    PollStopping(key);
  }

  void PollStopping(const std::string& key) {
    auto it = stopping.find(key);
    if (it == stopping.end()) return;
    Stopping& s = it->second;
    bool alive = false;
    for (const Proc& proc : s.procs) {
      ::waitpid(proc.pid, nullptr, WNOHANG);  // ours, or not a child at all (ECHILD)
      if (GroupAlive(proc.pid)) alive = true;
    }
    const auto now = Clock::now();
    if (alive && !s.killed && now >= s.kill_at) {
      for (const Proc& proc : s.procs) KillGroup(proc.pid, SIGKILL);
      s.killed = true;
      s.give_up_at = now + kKillWait;
    }
    if (alive && !(s.killed && now >= s.give_up_at)) {
      s.timer->expires_after(kPollEvery);
      std::weak_ptr<Impl> weak = shared_from_this();
      s.timer->async_wait([weak, key](const boost::system::error_code& ec) {
        auto self = weak.lock();
        if (!ec && self) self->PollStopping(key);
      });
      return;
    }
    // Reap what died between the waitpid above and the group check.
    for (const Proc& proc : s.procs) ::waitpid(proc.pid, nullptr, WNOHANG);
    // The volumes go before the pod's directory, which holds their mounts.
    auto pending = std::make_shared<size_t>(1);
    std::weak_ptr<Impl> weak = shared_from_this();
    auto unmounted = [weak, key, pending] {
      auto self = weak.lock();
      if (self && --*pending == 0) self->TearDown(key);
    };
    if (s.run && options.unmount_volume) {
      for (const auto& m : s.mounted) {
        ++*pending;
        options.unmount_volume(*s.run, m.first, m.second, unmounted);
      }
    }
    unmounted();
  }

  void TearDown(const std::string& key) {
    auto it = stopping.find(key);
    if (it == stopping.end()) return;
    const Stopping& s = it->second;
    if (s.netns.empty() && s.veth.empty()) return Stopped(key);
    RunScript(TeardownScript(s.netns, s.veth, s.ip), s.dir.empty() ? "/dev/null" : s.dir + "/network.log", nullptr,
              [this, key](int, const std::string&) { Stopped(key); });
  }

  void Stopped(const std::string& key) {
    auto it = stopping.find(key);
    if (it == stopping.end()) return;
    std::vector<std::function<void()>> done = std::move(it->second.done);
    if (!it->second.dir.empty()) RemoveTree(it->second.dir);
    stopping.erase(it);
    auto waiting = pods.find(key);
    if (waiting != pods.end() && waiting->second.stage == Stage::kWaiting) BeginSetup(waiting->second);
    for (auto& fn : done) fn();
  }

  // ---- leftovers -----------------------------------------------------------------------------

  void Cleanup(const std::set<std::string>& keep, std::function<void()> done) {
    auto pending = std::make_shared<int>(1);
    auto one_done = [pending, done] {
      if (--*pending == 0 && done) done();
    };
    std::set<std::string> owned;
    for (const std::string& k : keep) owned.insert(Netns(k));
    for (const auto& kv : pods) owned.insert(kv.second.netns);
    for (const auto& kv : stopping) owned.insert(kv.second.netns);
    std::error_code ec;
    for (const fs::directory_entry& e : fs::directory_iterator(options.data_dir + "/pods", ec)) {
      if (!e.is_directory()) continue;
      const std::string dir = e.path().string();
      std::optional<Saved> saved = Load(dir);
      const std::string key = saved ? saved->key : "";
      if (!key.empty() && (keep.count(key) || pods.count(key) || stopping.count(key))) continue;
      if (key.empty()) {
        // No state: a pod that never got that far, unless it is one of ours.
        bool ours = false;
        for (const auto& kv : pods) ours = ours || kv.second.dir == dir;
        for (const std::string& k : keep) ours = ours || Dir(k) == dir;
        if (!ours) RemoveTree(dir);
        continue;
      }
      Stopping s;
      s.key = key;
      s.netns = saved->netns;
      s.veth = saved->veth;
      s.ip = saved->ip;
      s.dir = dir;
      owned.insert(s.netns);
      for (const auto& c : saved->containers)
        if (SameProcess(c.second.pid, c.second.ticks)) s.procs.push_back(Proc{c.second.pid, c.second.ticks, nullptr});
      ++*pending;
      s.done.push_back(one_done);
      BeginStopping(std::move(s));
    }
    for (const fs::directory_entry& e : fs::directory_iterator("/run/netns", ec)) {
      const std::string name = e.path().filename().string();
      if (name.rfind(options.netns_prefix, 0) != 0 || owned.count(name)) continue;
      ++*pending;
      RunScript(TeardownScript(name, "", ""), "/dev/null", nullptr, [one_done](int, const std::string&) { one_done(); });
    }
    boost::asio::post(io, one_done);
  }
};

// ---- the public face ------------------------------------------------------------------------

StatusOr<std::unique_ptr<ProcessRuntime>> ProcessRuntime::Create(boost::asio::io_context& io,
                                                                  ProcessRuntimeOptions options) {
  if (options.data_dir.empty())
    return InvalidArgument("data_dir is empty; give the directory the pods' logs and state go in",
                           "ProcessRuntimeOptions.data_dir");
  if (options.netns_prefix.empty() || options.netns_prefix.size() > 20 ||
      options.netns_prefix.find_first_of("/ \t'\"") != std::string::npos)
    return InvalidArgument("netns_prefix \"" + options.netns_prefix +
                               "\" must be 1-20 characters without '/', quotes or spaces",
                           "ProcessRuntimeOptions.netns_prefix");
  if (options.backoff_initial.count() <= 0 || options.backoff_max < options.backoff_initial)
    return InvalidArgument("the back-off must be positive and backoff_max at least backoff_initial",
                           "ProcessRuntimeOptions.backoff_initial");
  const char* env_path = std::getenv("PATH");
  StatusOr<std::string> ip = ResolveExecutable(
      options.ip_binary, std::string(env_path ? env_path : "") + ":/usr/local/sbin:/usr/sbin:/sbin", "/");
  if (!ip.ok())
    return NotFound("iproute2's ip (\"" + options.ip_binary + "\") not found: " + ip.status().ToString() +
                        "; install iproute2 or set ip_binary to its path",
                    "ProcessRuntimeOptions.ip_binary");
  std::error_code ec;
  fs::create_directories(options.data_dir + "/pods", ec);
  if (ec)
    return IoError("cannot create " + options.data_dir + "/pods: " + ec.message() +
                       "; choose a data_dir this process may write",
                   "ProcessRuntimeOptions.data_dir");
  auto impl = std::make_shared<Impl>(io, std::move(options));
  impl->ip_path = *ip;
  return std::unique_ptr<ProcessRuntime>(new ProcessRuntime(std::move(impl)));
}

ProcessRuntime::ProcessRuntime(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

ProcessRuntime::~ProcessRuntime() {
  // Close the watches and timers; the processes and namespaces stay for the next runtime.
  for (auto& kv : impl_->pods) {
    kv.second.setup.pidfd.reset();
    for (auto& c : kv.second.containers) {
      c.proc.pidfd.reset();
      if (c.backoff) c.backoff->cancel();
    }
  }
  for (auto& kv : impl_->stopping)
    if (kv.second.timer) kv.second.timer->cancel();
}

void ProcessRuntime::SetReporter(Reporter reporter) { impl_->reporter = std::move(reporter); }
void ProcessRuntime::Start(const PodRun& run) { impl_->Start(run); }
void ProcessRuntime::Stop(const std::string& pod_key) { impl_->Stop(pod_key, {}); }
void ProcessRuntime::Stop(const std::string& pod_key, std::function<void()> done) {
  impl_->Stop(pod_key, std::move(done));
}

void ProcessRuntime::StopAll(std::function<void()> done) {
  std::vector<std::string> keys = pods();
  for (const auto& kv : impl_->stopping) keys.push_back(kv.first);
  auto pending = std::make_shared<size_t>(keys.size() + 1);
  auto one = [pending, done] {
    if (--*pending == 0 && done) done();
  };
  for (const std::string& k : keys) impl_->Stop(k, one);
  boost::asio::post(impl_->io, one);
}

void ProcessRuntime::Cleanup(const std::set<std::string>& keep, std::function<void()> done) {
  impl_->Cleanup(keep, std::move(done));
}

std::vector<std::string> ProcessRuntime::pods() const {
  std::vector<std::string> out;
  for (const auto& kv : impl_->pods) out.push_back(kv.first);
  return out;
}

std::optional<ProcessPodStatus> ProcessRuntime::status(const std::string& pod_key) const {
  auto it = impl_->pods.find(pod_key);
  if (it == impl_->pods.end()) return std::nullopt;
  const Impl::Pod& p = it->second;
  ProcessPodStatus s;
  s.netns = p.netns;
  s.host_veth = p.veth;
  s.pod_ip = p.ip;
  s.dir = p.dir;
  s.last_report = p.last_report;
  s.message = p.message;
  for (const Impl::ContainerRun& c : p.containers) {
    ProcessContainerStatus cs;
    cs.name = c.spec.name;
    cs.pid = c.running ? c.proc.pid : 0;
    cs.running = c.running;
    cs.adopted = c.adopted;
    cs.last_exit_code = c.last_exit;
    cs.restarts = c.restarts;
    cs.log_path = p.dir + "/" + c.spec.name + ".log";
    s.containers.push_back(cs);
  }
  return s;
}

bool ProcessRuntime::busy() const { return !impl_->stopping.empty() || impl_->scripts_running > 0; }

std::string ProcessRuntime::NetnsName(const std::string& pod_key) const { return impl_->Netns(pod_key); }
std::string ProcessRuntime::HostVethName(const std::string& pod_key) const { return impl_->Veth(pod_key); }
std::string ProcessRuntime::PodDir(const std::string& pod_key) const { return impl_->Dir(pod_key); }

}  // namespace edgebed::host

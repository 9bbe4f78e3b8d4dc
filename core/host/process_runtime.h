// ProcessRuntime: the WorkloadRuntime of a real node. Each pod gets a
// network namespace of its own, wired to the node as Calico wires a pod, and
// each of its containers runs as a local process inside it (images are names
// only: a container runs its `command` + `args` from the node's files).
//
// What a pod gets:
// - a network namespace "<netns_prefix><12 hex digits>" (made with
//   `ip netns add`, so `ip netns` lists it), holding eth0 — the pod end of a
//   veth pair whose node end "eb<10 hex digits>" stays in the runtime's own
//   network namespace — with the pod's IP as a /32, lo up, and
//   `default via 169.254.1.1 dev eth0 onlink`. The node end has Calico's
//   MAC ee:ee:ee:ee:ee:ee and proxy_arp on; the pod holds a permanent
//   neighbour entry for 169.254.1.1, so it reaches the node even where the
//   node has no route for proxy ARP to answer from. The node routes
//   podIP/32 to the node end, and net.ipv4.ip_forward is set to 1.
// - per container, a process in its own session and process group (so a
//   stop reaches everything it started) in the pod's namespace, with the
//   container's env plus POD_NAME, POD_NAMESPACE, POD_IP, NODE_NAME and
//   EDGEBED_VOLUME_<CLAIM>=<dir> for each volume `mount_volume` made
//   ($(NAME) in command and args expands from that env, as the kubelet does);
//   stdin is /dev/null, stdout and stderr append to
//   <data_dir>/pods/<namespace>_<name>/<container>.log.
// - restartPolicy as the kubelet: Always restarts any exit, OnFailure a
//   non-zero one, Never none; a restart waits out the crash-loop back-off
//   (`backoff_initial`, doubling per restart, at most `backoff_max`).
//   When the last container leaves for good, a pod whose containers all
//   exited 0 has Succeeded, otherwise it has Failed (reason Error; the exit
//   codes are in status()). A process killed by signal N exits 128+N.
// Reports, always posted to the io_context and never made inside a call:
// Pending/ContainerCreating on Start; Running/Started once every container
// runs (and again, with the restart count up by one, after each restart);
// Running/CrashLoopBackOff while a restart waits; Succeeded/Completed;
// Failed/Error. A pod that cannot be made reports Failed with reason
// FailedCreatePodSandBox (an `ip` step failed), CreateContainerConfigError
// (no command, no pod IP), StartError (exec failed) or FailedMount; the
// detail is in status(key).message and <pod dir>/network.log.
//
// Stop(key) sends SIGTERM to every process group of the pod, SIGKILL after
// `grace_period`, then deletes the veth pair, the route and the namespace
// and removes the pod's directory; no report follows. A Start of the same
// key meanwhile waits until that is done.
//
// Restarts of the agent: every pod's namespace, veth, IP and processes (pid
// and start time from /proc/<pid>/stat, so a reused pid is never taken for
// ours) are recorded in <pod dir>/state. A new ProcessRuntime on the same
// data_dir given the same pod adopts the processes that still run instead
// of starting new ones; Cleanup(keep) kills and removes what is left of the
// pods not in `keep`. An adopted process is not our child, so its exit code
// cannot be read: its exit counts as code 137 (as the kubelet's
// ContainerStatusUnknown). Destroying a ProcessRuntime leaves its pods
// running, for the next one to adopt.
//
// Nothing here aborts the agent: every failure of `ip`, fork, exec or a file
// becomes a report or a Status. All work runs on the io_context's thread;
// the only waits on it are a fork/exec and small /proc reads.
//
// REQUIRES: root (CAP_NET_ADMIN, CAP_SYS_ADMIN); SIGCHLD not ignored in the
// process; the runtime is used only from the io_context's thread.
//
//   ProcessRuntimeOptions o;
//   o.data_dir = "/var/lib/edgebed/node-a";
//   o.node_name = "node-a";
//   auto runtime = ProcessRuntime::Create(io, o);   // StatusOr
//   (*runtime)->Cleanup(keys_of_pods_still_assigned_here);
//   Agent agent(env, agent_options, **runtime);
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/base/status.h"
#include "core/cluster/runtime.h"

namespace edgebed::host {

struct ProcessRuntimeOptions {
  std::string data_dir;              // required; pods live under <data_dir>/pods/
  std::string netns_prefix = "eb-";  // names of the pods' network namespaces
  std::string ip_binary = "ip";      // iproute2's ip: a path, or a name looked up in PATH
  std::string node_name;             // NODE_NAME; empty: the pod's spec.nodeName
  // The containers' PATH, where their commands are looked up (images are
  // names only, so there is no image's PATH to take).
  std::string container_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  // The model has no terminationGracePeriodSeconds: this is every pod's.
  std::chrono::milliseconds grace_period = std::chrono::seconds(30);
  std::chrono::milliseconds backoff_initial = std::chrono::seconds(10);
  std::chrono::milliseconds backoff_max = std::chrono::minutes(5);
  // A volume the pod mounts, made available as a directory: `done` gets it
  // later, on the io thread (mounting does I/O the io thread itself serves),
  // or an error that fails the pod with reason FailedMount. Called again for
  // an adopted pod (see mounts_outlive_runtime). Unset:
  // volumes are not offered to the containers.
  using MountDone = std::function<void(StatusOr<std::string> dir)>;
  std::function<void(const cluster::PodRun&, const cluster::VolumeMount&, MountDone done)> mount_volume;
  // Whether a volume mounted by one runtime still serves after it is gone (a
  // directory does; a FUSE mount served by the agent's own process does not,
  // so a pod with volumes is then started again rather than adopted).
  bool mounts_outlive_runtime = true;
  // Called once the pod's processes are gone, for each volume mounted; the
  // pod's directory goes once every `done` has been called (on the io thread).
  std::function<void(const cluster::PodRun&, const cluster::VolumeMount&, const std::string& dir,
                     std::function<void()> done)>
      unmount_volume;
};

// What the runtime knows of one container, for tests, logs and humans.
struct ProcessContainerStatus {
  std::string name;
  pid_t pid = 0;           // 0: not running
  bool running = false;
  bool adopted = false;    // taken over from an earlier runtime
  std::optional<int> last_exit_code;
  uint32_t restarts = 0;
  std::string log_path;
};

struct ProcessPodStatus {
  std::string netns, host_veth, pod_ip, dir;
  cluster::PodReport last_report;  // the last one posted
  std::string message;             // why it failed, when it did
  std::vector<ProcessContainerStatus> containers;
};

class ProcessRuntime final : public cluster::WorkloadRuntime {
 public:
  // Checks the options (data_dir set, the ip binary found) and creates
  // <data_dir>/pods. Errors name the option and the fix.
  static StatusOr<std::unique_ptr<ProcessRuntime>> Create(boost::asio::io_context& io,
                                                          ProcessRuntimeOptions options);
  ~ProcessRuntime() override;  // leaves the pods running; see above
  ProcessRuntime(const ProcessRuntime&) = delete;
  ProcessRuntime& operator=(const ProcessRuntime&) = delete;

  void SetReporter(Reporter reporter) override;
  // Starts (or adopts) the pod; a pod already here with this key is
  // stopped first.
  void Start(const cluster::PodRun& run) override;
  void Stop(const std::string& pod_key) override;
  // Stop, and `done` once the processes are gone and the network and
  // directory removed (also when the key is unknown). Idempotent.
  void Stop(const std::string& pod_key, std::function<void()> done);
  // Stops every pod; `done` once all of them are gone.
  void StopAll(std::function<void()> done);
  // Kills and removes whatever is left under data_dir of pods not in `keep`
  // and not started here, and every namespace with this runtime's prefix
  // that no pod here or in `keep` owns; `done` when finished.
  void Cleanup(const std::set<std::string>& keep, std::function<void()> done = {});

  // Keys of the pods started and not stopped.
  std::vector<std::string> pods() const;
  std::optional<ProcessPodStatus> status(const std::string& pod_key) const;
  // True while a Stop or Cleanup is still at work.
  bool busy() const;

  // The names a pod's network gets (stable for a key and prefix).
  std::string NetnsName(const std::string& pod_key) const;
  std::string HostVethName(const std::string& pod_key) const;
  // <data_dir>/pods/<namespace>_<name>
  std::string PodDir(const std::string& pod_key) const;

 private:
  struct Impl;
  explicit ProcessRuntime(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// EDGEBED_VOLUME_<claim upper-cased, every other character than A-Z and 0-9 as _>.
std::string VolumeEnvName(const std::string& claim);

}  // namespace edgebed::host

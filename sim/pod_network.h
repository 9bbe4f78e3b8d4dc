// PodNetwork: the pod-to-pod packet path of one simulated node — what the
// kernel, the CNI's routes and Calico's dataplane do on a real one.
//
// Pods send from their own address to another pod's address and port. A
// packet leaves through the node's policy dataplane (the agent's: egress at
// the source pod), crosses the simulated network to the node that holds the
// destination address (PodRouter: the routes each node's pod CIDR gives, as
// BGP or VXLAN would spread them), and enters through that node's dataplane
// (ingress at the destination pod). A packet either dataplane denies is
// dropped and counted; the sender hears nothing, as on a real network.
//
// TCP is modelled as connections: the first message to a peer opens one with
// a SYN (which policy judges, and conntrack remembers), the peer's stack
// answers SYN-ACK (or RST when nothing listens), and messages then flow as
// ACK segments over it, on conntrack's fast path. A SYN unanswered after its
// retries (1 s, 2 s, 4 s, as Linux's first ones) fails the connection, and
// messages waiting on it are dropped. UDP messages are sent as they come.
//
// Services: a flow to a ClusterIP is translated before policy, as the
// node's kube-proxy rules do. The node's ServiceProxy (core/policy/
// services.h) picks the pod from the agent's service table and the node's
// seeded random source; the connection (or, for UDP, the flow until 30 s of
// silence, as conntrack's) keeps that pod; both dataplanes judge the
// translated flow; and the answers come back from the service's address. A
// ClusterIP with no endpoint for the port refuses the connection at once.
// A node's own address (the gateway of its pod range, which every pod can
// reach) serves the node ports: a flow to it is translated there and
// forwarded to the chosen pod, from the node's address (externalTraffic-
// Policy Cluster, so the pod's policy sees the node) or from the client's
// (Local, to this node's pods only); the answers go back the same way.
//
// New flows, allowed or denied, go to the node's intrusion detector
// (core/policy/ids.h) and to the counters the simulation records.
//
// Runs on any Env; messages travel on kPodTrafficPort between nodes.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/env/env.h"
#include "core/policy/dataplane.h"
#include "core/policy/ids.h"
#include "core/policy/services.h"

namespace edgebed::sim {

inline constexpr Port kPodTrafficPort = 7420;

// Which node holds a pod address; kNoNode when none is known.
class PodRouter {
 public:
  virtual ~PodRouter() = default;
  virtual NodeId NodeOf(uint32_t pod_ip) = 0;
};

struct PodNetworkStats {
  uint64_t sent = 0, delivered = 0;
  uint64_t flows_allowed = 0;   // new flows this node's dataplane let through
  uint64_t flows_denied = 0;    // new flows it dropped (egress or ingress)
  uint64_t denied_packets = 0;  // every packet it dropped
  uint64_t connect_failures = 0, resets = 0;
  uint64_t no_route = 0, bad_frames = 0, unbound = 0;
  uint64_t service_flows = 0;    // new flows to a service, translated to one of its pods
  uint64_t service_rejects = 0;  // new flows to a service with no endpoint for them
  uint64_t node_port_flows = 0;  // new flows to this node's node ports, forwarded to a pod
};

class PodNetwork {
 public:
  struct Message {
    uint32_t src_ip = 0, dst_ip = 0;
    uint16_t src_port = 0, dst_port = 0;
    uint8_t protocol = policy::kTcp;
    ByteView payload;
  };
  using Handler = std::function<void(const Message&)>;
  // A connection this node opened failed (no answer, or reset): what it
  // was sending to, so the sender can pick another peer.
  using FailureHandler = std::function<void(uint32_t dst_ip, uint16_t dst_port)>;
  // Where a denied flow is told (for events): the packet, and whether the
  // source's egress refused it (else the destination's ingress did).
  using DenyObserver = std::function<void(const policy::Packet&, bool at_egress, const policy::Verdict&)>;

  // `dataplane` is asked for the node's dataplane on each packet (null: no
  // policy yet, everything passes, as a node without Calico programming).
  PodNetwork(Env& env, PodRouter& router, std::function<policy::Dataplane*()> dataplane);
  ~PodNetwork();
  PodNetwork(const PodNetwork&) = delete;
  PodNetwork& operator=(const PodNetwork&) = delete;

  // A local pod listens on (ip, port, protocol). Replaces an earlier handler.
  void Bind(uint32_t ip, uint16_t port, uint8_t protocol, Handler handler);
  // Forgets every binding, connection, failure handler and name of a local pod.
  void Unbind(uint32_t ip);
  // Names a local pod's workload ("namespace/app") for the IDS's profiles.
  void SetWorkload(uint32_t ip, std::string workload) { workloads_[ip] = std::move(workload); }
  // Hears of the failures of connections a local pod opens from `port`.
  void OnFailure(uint32_t ip, uint16_t port, FailureHandler handler);

  // Sends from a local pod. TCP opens (or reuses) the connection from
  // (src_ip, src_port) to (dst_ip, dst_port) first.
  void Send(uint32_t src_ip, uint16_t src_port, uint32_t dst_ip, uint16_t dst_port, uint8_t protocol,
            Bytes payload);

  // Answers `to` on the connection it arrived on (conntrack's reply
  // direction, so no policy is consulted again); the sender must have bound
  // its own port to hear it.
  void Reply(const Message& to, Bytes payload);

  void set_deny_observer(DenyObserver observer) { deny_observer_ = std::move(observer); }
  // The node's service table, asked on each new flow (null: none yet), the
  // node's name (for Local traffic policies) and its own address (0: none
  // yet), where it serves node ports.
  void set_services(std::function<const policy::ServiceTable*()> services, std::string node_name,
                    std::function<uint32_t()> node_address);
  // For name lookups (cluster DNS): null when the node has no table yet.
  const policy::ServiceTable* services() const { return services_ ? services_() : nullptr; }
  // Node-local IDS over every new flow; alerts go to the Env's sink.
  void EnableIds(policy::IdsOptions options);
  const policy::IntrusionDetector* ids() const { return ids_.get(); }
  const PodNetworkStats& stats() const { return stats_; }

 private:
  enum class FrameType : uint8_t { kSyn = 1, kSynAck = 2, kData = 3, kRst = 4, kDatagram = 5 };
  struct FlowKey {
    uint32_t src_ip, dst_ip;
    uint16_t src_port, dst_port;
    bool operator<(const FlowKey& o) const {
      return std::tie(src_ip, dst_ip, src_port, dst_port) < std::tie(o.src_ip, o.dst_ip, o.src_port, o.dst_port);
    }
  };
  struct Connection {
    FlowKey wire{};  // the flow as sent: the key's own, or translated to a service's pod
    bool established = false;
    int attempts = 0;
    TimerId retry = kNoTimer;
    std::vector<Bytes> waiting;
  };

  static policy::Packet PacketOf(FrameType type, const FlowKey& key, uint8_t protocol);
  void Transmit(FrameType type, const FlowKey& key, uint8_t protocol, ByteView payload);
  void OnFrame(NodeId from, ByteView frame);
  void Arrive(FrameType type, const FlowKey& key, uint8_t protocol, ByteView payload);
  // Runs `packet` through the dataplane; false if it is dropped.
  bool Pass(const policy::Packet& packet, bool at_egress, uint64_t bytes);
  void SendSyn(const FlowKey& key);
  void Fail(const FlowKey& key, bool reset);
  void TickIds();
  // The flow `key` goes out as: itself, or translated to a service's pod.
  // False when a service refuses it (no endpoint).
  bool Translate(const FlowKey& key, uint8_t protocol, FlowKey* wire);
  // The flow as the local pod opened it, of one on the wire.
  FlowKey Original(const FlowKey& wire) const;
  void ForgetTranslation(const FlowKey& wire);
  // A frame to this node's own address: a node port's flow, forwarded.
  void ArriveAtNode(FrameType type, const FlowKey& key, uint8_t protocol, ByteView payload);
  static FlowKey Reversed(const FlowKey& k) { return FlowKey{k.dst_ip, k.src_ip, k.dst_port, k.src_port}; }

  // Stamps the IDS's events with this node.
  class NodeSink final : public MetricsSink {
   public:
    explicit NodeSink(Env& env) : env_(env) {}
    void Record(const MetricSample& sample) override {
      MetricSample s = sample;
      s.node = env_.self();
      env_.metrics().Record(s);
    }
    void Event(const EventRecord& event) override {
      EventRecord e = event;
      e.node = env_.self();
      env_.metrics().Event(e);
    }

   private:
    Env& env_;
  };

  Env& env_;
  NodeSink ids_sink_{env_};
  PodRouter& router_;
  std::function<policy::Dataplane*()> dataplane_;
  std::map<std::pair<uint32_t, uint32_t>, Handler> bindings_;  // (ip, port << 8 | protocol)
  std::map<std::pair<uint32_t, uint16_t>, FailureHandler> failure_handlers_;
  std::map<FlowKey, Connection> connections_;  // opened here
  std::function<const policy::ServiceTable*()> services_;
  std::unique_ptr<policy::ServiceProxy> proxy_;
  std::map<FlowKey, FlowKey> translated_;  // wire flow -> as the local pod sent it
  struct UdpTranslation {
    FlowKey wire;
    Time last;
  };
  std::map<FlowKey, UdpTranslation> udp_translations_;  // by the flow as sent
  std::function<uint32_t()> node_address_;
  // Node-port flows through this node, both directions: a frame arriving
  // as the key leaves as the value. Forgotten after kForwardIdle unused.
  struct Forward {
    FlowKey out;
    Time last;
  };
  std::map<FlowKey, Forward> forwards_;
  uint16_t next_masquerade_port_ = 0;
  Time next_forward_sweep_{};
  std::map<uint32_t, std::string> workloads_;   // local pod address -> workload
  DenyObserver deny_observer_;
  std::unique_ptr<policy::IntrusionDetector> ids_;
  TimerId ids_timer_ = kNoTimer;
  Duration ids_tick_{0};
  PodNetworkStats stats_;
};

}  // namespace edgebed::sim

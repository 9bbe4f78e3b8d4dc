#include "core/cluster/records.h"

#include "core/wire/codec.h"

namespace edgebed::cluster {
namespace {

using wire::Reader;
using wire::Writer;

constexpr uint8_t kRecordVersion = 1;
constexpr size_t kMaxName = 1024;
constexpr size_t kMaxLabels = 4096;
constexpr size_t kMaxList = 4096;

void Begin(Writer& w) { w.PutU8(kRecordVersion); }

Status Start(Reader& r, const char* what) {
  uint8_t version = 0;
  if (Status s = r.GetU8(&version); !s.ok()) return s;
  if (version != kRecordVersion)
    return Corruption(std::string(what) + " record of version " + std::to_string(version) +
                      "; this release reads version " + std::to_string(kRecordVersion));
  return Status::Ok();
}

Status End(const Reader& r, const char* what) {
  if (Status s = r.ExpectEnd(); !s.ok()) return Corruption(std::string(what) + ": " + s.message());
  return Status::Ok();
}

void PutLabels(Writer& w, const model::Labels& labels) {
  w.PutVarint(labels.size());
  for (const auto& [k, v] : labels) {
    w.PutString(k);
    w.PutString(v);
  }
}

Status GetLabels(Reader& r, model::Labels* labels) {
  uint64_t n = 0;
  (void)r.GetBoundedVarint(kMaxLabels, &n);
  labels->clear();
  for (uint64_t i = 0; i < n && r.status().ok(); ++i) {
    std::string k, v;
    (void)r.GetString(kMaxName, &k);
    (void)r.GetString(kMaxName, &v);
    (*labels)[std::move(k)] = std::move(v);
  }
  return r.status();
}

}  // namespace

Bytes Encode(const PodAssignment& a) {
  Writer w;
  Begin(w);
  w.PutString(a.manifest);
  w.PutVarint(a.volumes.size());
  for (const VolumeMount& v : a.volumes) {
    w.PutString(v.claim);
    w.PutString(v.volume);
    w.PutU32(v.block_size);
    w.PutU32(v.blocks);
    w.PutVarint(v.replicas.size());
    for (NodeId n : v.replicas) w.PutU32(n);
    w.PutU8((v.sharedv4 ? 1 : 0) | (v.read_only ? 2 : 0));
  }
  return std::move(w).Finish();
}

Status Decode(ByteView b, PodAssignment* a) {
  Reader r(b);
  if (Status s = Start(r, "pod assignment"); !s.ok()) return s;
  uint64_t n = 0;
  (void)r.GetString(256u << 10, &a->manifest);
  (void)r.GetBoundedVarint(kMaxList, &n);
  a->volumes.clear();
  for (uint64_t i = 0; i < n && r.status().ok(); ++i) {
    VolumeMount v;
    uint64_t replicas = 0;
    uint8_t flags = 0;
    (void)r.GetString(kMaxName, &v.claim);
    (void)r.GetString(kMaxName, &v.volume);
    (void)r.GetU32(&v.block_size);
    (void)r.GetU32(&v.blocks);
    (void)r.GetBoundedVarint(16, &replicas);
    for (uint64_t j = 0; j < replicas && r.status().ok(); ++j) {
      uint32_t node = 0;
      (void)r.GetU32(&node);
      v.replicas.push_back(node);
    }
    (void)r.GetU8(&flags);
    v.sharedv4 = flags & 1;
    v.read_only = flags & 2;
    a->volumes.push_back(std::move(v));
  }
  if (!r.status().ok()) return r.status();
  return End(r, "pod assignment");
}

Bytes EncodeLabels(const model::Labels& labels) {
  Writer w;
  Begin(w);
  PutLabels(w, labels);
  return std::move(w).Finish();
}

Status DecodeLabels(ByteView b, model::Labels* labels) {
  Reader r(b);
  if (Status s = Start(r, "labels"); !s.ok()) return s;
  if (Status s = GetLabels(r, labels); !s.ok()) return s;
  return End(r, "labels");
}

Bytes Encode(const policy::Endpoint& e) {
  Writer w;
  Begin(w);
  w.PutString(e.namespace_);
  w.PutString(e.name);
  PutLabels(w, e.labels);
  w.PutString(e.service_account);
  w.PutVarint(e.ips.size());
  for (uint32_t ip : e.ips) w.PutU32(ip);
  w.PutVarint(e.ports.size());
  for (const policy::NamedPort& p : e.ports) {
    w.PutString(p.name);
    w.PutU8(p.protocol);
    w.PutU16(p.port);
  }
  return std::move(w).Finish();
}

Status Decode(ByteView b, policy::Endpoint* e) {
  Reader r(b);
  if (Status s = Start(r, "endpoint"); !s.ok()) return s;
  uint64_t n = 0;
  (void)r.GetString(kMaxName, &e->namespace_);
  (void)r.GetString(kMaxName, &e->name);
  (void)GetLabels(r, &e->labels);
  (void)r.GetString(kMaxName, &e->service_account);
  (void)r.GetBoundedVarint(64, &n);
  e->ips.clear();
  for (uint64_t i = 0; i < n && r.status().ok(); ++i) {
    uint32_t ip = 0;
    (void)r.GetU32(&ip);
    e->ips.push_back(ip);
  }
  (void)r.GetBoundedVarint(kMaxList, &n);
  e->ports.clear();
  for (uint64_t i = 0; i < n && r.status().ok(); ++i) {
    policy::NamedPort p;
    (void)r.GetString(kMaxName, &p.name);
    (void)r.GetU8(&p.protocol);
    (void)r.GetU16(&p.port);
    e->ports.push_back(std::move(p));
  }
  if (!r.status().ok()) return r.status();
  return End(r, "endpoint");
}

Bytes Encode(const policy::NetworkSet& n) {
  Writer w;
  Begin(w);
  w.PutString(n.namespace_);
  w.PutString(n.name);
  PutLabels(w, n.labels);
  w.PutVarint(n.nets.size());
  for (const IpPrefix& p : n.nets) w.PutString(p.ToString());
  return std::move(w).Finish();
}

Status Decode(ByteView b, policy::NetworkSet* n) {
  Reader r(b);
  if (Status s = Start(r, "network set"); !s.ok()) return s;
  uint64_t count = 0;
  (void)r.GetString(kMaxName, &n->namespace_);
  (void)r.GetString(kMaxName, &n->name);
  (void)GetLabels(r, &n->labels);
  (void)r.GetBoundedVarint(kMaxList, &count);
  n->nets.clear();
  for (uint64_t i = 0; i < count && r.status().ok(); ++i) {
    std::string text, why;
    (void)r.GetString(64, &text);
    IpPrefix p;
    if (r.status().ok() && !ParseCidr(text, &p, &why)) return Corruption("network set net: " + why);
    n->nets.push_back(p);
  }
  if (!r.status().ok()) return r.status();
  return End(r, "network set");
}

// A service's endpoints may be many more than any other list here (the
// view's value bound, 1 MiB, is the real cap).
constexpr size_t kMaxBackends = 1u << 16;

Bytes Encode(const policy::ServiceEntry& e) {
  Writer w;
  Begin(w);
  w.PutString(e.namespace_);
  w.PutString(e.name);
  w.PutU32(e.cluster_ip);
  w.PutU8(static_cast<uint8_t>((e.client_ip_affinity ? 1 : 0) | (e.internal_local ? 2 : 0) | (e.external_local ? 4 : 0)));
  w.PutU32(e.affinity_seconds);
  w.PutVarint(e.ports.size());
  for (const policy::ServicePortEntry& p : e.ports) {
    w.PutString(p.name);
    w.PutU8(p.protocol);
    w.PutU16(p.port);
    w.PutU16(p.node_port);
    w.PutVarint(p.backends.size());
    for (const policy::ServiceBackend& b : p.backends) {
      w.PutU32(b.ip);
      w.PutU16(b.port);
      w.PutString(b.node);
    }
  }
  return std::move(w).Finish();
}

Status Decode(ByteView b, policy::ServiceEntry* e) {
  Reader r(b);
  if (Status s = Start(r, "service"); !s.ok()) return s;
  *e = {};
  uint8_t flags = 0;
  uint64_t ports = 0;
  (void)r.GetString(kMaxName, &e->namespace_);
  (void)r.GetString(kMaxName, &e->name);
  (void)r.GetU32(&e->cluster_ip);
  (void)r.GetU8(&flags);
  (void)r.GetU32(&e->affinity_seconds);
  (void)r.GetBoundedVarint(kMaxList, &ports);
  if (flags > 7) return Corruption("service " + e->namespace_ + "/" + e->name + ": unknown flags " + std::to_string(flags));
  e->client_ip_affinity = flags & 1;
  e->internal_local = flags & 2;
  e->external_local = flags & 4;
  for (uint64_t i = 0; i < ports && r.status().ok(); ++i) {
    policy::ServicePortEntry p;
    uint64_t backends = 0;
    (void)r.GetString(kMaxName, &p.name);
    (void)r.GetU8(&p.protocol);
    (void)r.GetU16(&p.port);
    (void)r.GetU16(&p.node_port);
    (void)r.GetBoundedVarint(kMaxBackends, &backends);
    for (uint64_t j = 0; j < backends && r.status().ok(); ++j) {
      policy::ServiceBackend backend;
      (void)r.GetU32(&backend.ip);
      (void)r.GetU16(&backend.port);
      (void)r.GetString(kMaxName, &backend.node);
      p.backends.push_back(std::move(backend));
    }
    e->ports.push_back(std::move(p));
  }
  if (!r.status().ok()) return r.status();
  return End(r, "service");
}

const char* PodPhaseName(PodPhase phase) {
  switch (phase) {
    case PodPhase::kPending: return "Pending";
    case PodPhase::kRunning: return "Running";
    case PodPhase::kSucceeded: return "Succeeded";
    case PodPhase::kFailed: return "Failed";
  }
  return "Unknown";
}

Bytes Encode(const PodReport& p) {
  Writer w;
  Begin(w);
  w.PutU8(static_cast<uint8_t>(p.phase));
  w.PutString(p.reason);
  w.PutU32(p.restarts);
  w.PutU32(static_cast<uint32_t>(p.exit_code));
  return std::move(w).Finish();
}

Status Decode(ByteView b, PodReport* p) {
  Reader r(b);
  if (Status s = Start(r, "pod report"); !s.ok()) return s;
  uint8_t phase = 0;
  (void)r.GetU8(&phase);
  (void)r.GetString(kMaxName, &p->reason);
  (void)r.GetU32(&p->restarts);
  uint32_t exit_code = 0;
  (void)r.GetU32(&exit_code);
  if (!r.status().ok()) return r.status();
  p->exit_code = static_cast<int32_t>(exit_code);
  if (phase > static_cast<uint8_t>(PodPhase::kFailed))
    return Corruption("pod report: phase " + std::to_string(phase));
  p->phase = static_cast<PodPhase>(phase);
  return End(r, "pod report");
}

Bytes Encode(const JobStatusRecord& s) {
  Writer w;
  Begin(w);
  w.PutString(s.uid);
  w.PutI64(s.start_ns);
  w.PutI64(s.finish_ns);
  w.PutU32(static_cast<uint32_t>(s.succeeded));
  w.PutU32(static_cast<uint32_t>(s.failed));
  w.PutString(s.condition);
  w.PutString(s.reason);
  w.PutString(s.message);
  w.PutVarint(s.counted.size());
  for (const std::string& pod : s.counted) w.PutString(pod);
  w.PutVarint(s.completed_indexes.size());
  for (int32_t i : s.completed_indexes) w.PutU32(static_cast<uint32_t>(i));
  w.PutU32(static_cast<uint32_t>(s.failures_since_success));
  w.PutI64(s.last_failure_ns);
  return std::move(w).Finish();
}

Status Decode(ByteView b, JobStatusRecord* s) {
  // A Job's pods and indexes: upstream bounds an Indexed Job at 100000.
  constexpr uint64_t kMaxPods = 1u << 20;
  Reader r(b);
  if (Status st = Start(r, "job status"); !st.ok()) return st;
  uint32_t succeeded = 0, failed = 0, failures = 0;
  uint64_t n = 0;
  (void)r.GetString(kMaxName, &s->uid);
  (void)r.GetI64(&s->start_ns);
  (void)r.GetI64(&s->finish_ns);
  (void)r.GetU32(&succeeded);
  (void)r.GetU32(&failed);
  (void)r.GetString(kMaxName, &s->condition);
  (void)r.GetString(kMaxName, &s->reason);
  (void)r.GetString(kMaxName, &s->message);
  (void)r.GetBoundedVarint(kMaxPods, &n);
  s->counted.clear();
  for (uint64_t i = 0; i < n && r.status().ok(); ++i) {
    std::string pod;
    (void)r.GetString(kMaxName, &pod);
    s->counted.push_back(std::move(pod));
  }
  (void)r.GetBoundedVarint(kMaxPods, &n);
  s->completed_indexes.clear();
  for (uint64_t i = 0; i < n && r.status().ok(); ++i) {
    uint32_t index = 0;
    (void)r.GetU32(&index);
    s->completed_indexes.push_back(static_cast<int32_t>(index));
  }
  (void)r.GetU32(&failures);
  (void)r.GetI64(&s->last_failure_ns);
  if (!r.status().ok()) return r.status();
  if (succeeded > INT32_MAX || failed > INT32_MAX || failures > INT32_MAX) return Corruption("job status: count out of range");
  s->succeeded = static_cast<int32_t>(succeeded);
  s->failed = static_cast<int32_t>(failed);
  s->failures_since_success = static_cast<int32_t>(failures);
  return End(r, "job status");
}

Bytes Encode(const CronJobStatusRecord& s) {
  Writer w;
  Begin(w);
  w.PutI64(s.created_unix);
  w.PutI64(s.last_schedule_unix);
  w.PutI64(s.last_successful_unix);
  return std::move(w).Finish();
}

Status Decode(ByteView b, CronJobStatusRecord* s) {
  Reader r(b);
  if (Status st = Start(r, "cronjob status"); !st.ok()) return st;
  (void)r.GetI64(&s->created_unix);
  (void)r.GetI64(&s->last_schedule_unix);
  (void)r.GetI64(&s->last_successful_unix);
  if (!r.status().ok()) return r.status();
  return End(r, "cronjob status");
}

Bytes Encode(const BackupRequest& q) {
  Writer w;
  Begin(w);
  w.PutString(q.volume);
  w.PutString(q.snapshot);
  w.PutI64(q.snapshot_ready_ns);
  w.PutU32(q.object_store);
  w.PutString(q.bucket);
  w.PutU32(q.full_every);
  return std::move(w).Finish();
}

Status Decode(ByteView b, BackupRequest* q) {
  Reader r(b);
  if (Status s = Start(r, "backup request"); !s.ok()) return s;
  (void)r.GetString(kMaxName, &q->volume);
  (void)r.GetString(kMaxName, &q->snapshot);
  (void)r.GetI64(&q->snapshot_ready_ns);
  (void)r.GetU32(&q->object_store);
  (void)r.GetString(kMaxName, &q->bucket);
  (void)r.GetU32(&q->full_every);
  if (!r.status().ok()) return r.status();
  if (q->volume.empty() || q->snapshot.empty() || q->bucket.empty() || q->full_every == 0)
    return Corruption("backup request without a volume, snapshot, bucket or full_every");
  return End(r, "backup request");
}

Bytes Encode(const BackupReport& q) {
  Writer w;
  Begin(w);
  w.PutString(q.snapshot);
  w.PutI64(q.snapshot_ready_ns);
  w.PutU8(q.ok ? 1 : 0);
  w.PutString(q.error);
  w.PutU64(q.seq);
  w.PutU8(q.full ? 1 : 0);
  w.PutU64(q.blocks);
  w.PutU64(q.bytes);
  w.PutI64(q.started_ns);
  w.PutI64(q.finished_ns);
  return std::move(w).Finish();
}

Status Decode(ByteView b, BackupReport* q) {
  Reader r(b);
  if (Status s = Start(r, "backup report"); !s.ok()) return s;
  uint8_t ok = 0, full = 0;
  (void)r.GetString(kMaxName, &q->snapshot);
  (void)r.GetI64(&q->snapshot_ready_ns);
  (void)r.GetU8(&ok);
  (void)r.GetString(kMaxName, &q->error);
  (void)r.GetU64(&q->seq);
  (void)r.GetU8(&full);
  (void)r.GetU64(&q->blocks);
  (void)r.GetU64(&q->bytes);
  (void)r.GetI64(&q->started_ns);
  (void)r.GetI64(&q->finished_ns);
  if (!r.status().ok()) return r.status();
  if (ok > 1 || full > 1) return Corruption("backup report flags out of range");
  q->ok = ok;
  q->full = full;
  return End(r, "backup report");
}

Bytes Encode(const PeerRecord& p) {
  Writer w;
  Begin(w);
  w.PutString(p.node);
  w.PutU32(p.id);
  w.PutString(p.address);
  w.PutU16(p.port);
  w.PutString(p.pod_cidr);
  return std::move(w).Finish();
}

Status Decode(ByteView b, PeerRecord* p) {
  Reader r(b);
  if (Status st = Start(r, "peer record"); !st.ok()) return st;
  (void)r.GetString(253, &p->node);  // sticky status: checked below
  (void)r.GetU32(&p->id);
  (void)r.GetString(64, &p->address);
  (void)r.GetU16(&p->port);
  (void)r.GetString(64, &p->pod_cidr);
  if (!r.status().ok()) return r.status();
  return End(r, "peer record");
}

Bytes Encode(const NodeStatus& s) {
  Writer w;
  Begin(w);
  w.PutString(s.pod_cidr);
  w.PutU8((s.ready ? 1 : 0) | (s.unreachable_taint ? 2 : 0));
  return std::move(w).Finish();
}

Status Decode(ByteView b, NodeStatus* s) {
  Reader r(b);
  if (Status st = Start(r, "node status"); !st.ok()) return st;
  uint8_t flags = 0;
  (void)r.GetString(64, &s->pod_cidr);
  (void)r.GetU8(&flags);
  if (!r.status().ok()) return r.status();
  s->ready = flags & 1;
  s->unreachable_taint = flags & 2;
  return End(r, "node status");
}

Bytes Encode(const VolumePlacementRecord& v) {
  Writer w;
  Begin(w);
  w.PutVarint(v.replicas.size());
  for (const auto& [node, pool] : v.replicas) {
    w.PutString(node);
    w.PutString(pool);
  }
  return std::move(w).Finish();
}

Status Decode(ByteView b, VolumePlacementRecord* v) {
  Reader r(b);
  if (Status s = Start(r, "volume placement"); !s.ok()) return s;
  uint64_t n = 0;
  (void)r.GetBoundedVarint(16, &n);
  v->replicas.clear();
  for (uint64_t i = 0; i < n && r.status().ok(); ++i) {
    std::string node, pool;
    (void)r.GetString(kMaxName, &node);
    (void)r.GetString(kMaxName, &pool);
    v->replicas.emplace_back(std::move(node), std::move(pool));
  }
  if (!r.status().ok()) return r.status();
  return End(r, "volume placement");
}

}  // namespace edgebed::cluster

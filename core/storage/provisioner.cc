#include "core/storage/provisioner.h"

#include <algorithm>
#include <tuple>

#include "core/model/quantity.h"

namespace edgebed::storage {

namespace {

std::string Trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t");
  if (a == std::string::npos) return "";
  const size_t b = s.find_last_not_of(" \t");
  return s.substr(a, b - a + 1);
}

std::string Bytes(uint64_t b) {
  // A person's unit: the largest binary unit that divides evenly, else Mi rounded.
  static const char* kUnits[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi"};
  int u = 0;
  uint64_t v = b;
  while (u < 5 && v >= 1024 && v % 1024 == 0) {
    v /= 1024;
    ++u;
  }
  return std::to_string(v) + kUnits[u];
}

std::string Key(const std::string& ns, const std::string& name) { return ns + "/" + name; }

std::string BuildingOf(const model::Labels& labels) {
  for (const char* key : {kBuildingLabel, "topology.kubernetes.io/zone"}) {
    auto it = labels.find(key);
    if (it != labels.end()) return it->second;
  }
  return "";
}

std::string FloorOf(const model::Labels& labels) {
  auto it = labels.find(kFloorLabel);
  return it == labels.end() ? "" : BuildingOf(labels) + "/" + it->second;
}

bool IsPortworx(const model::StorageClass& sc) { return sc.portworx.has_value(); }

}  // namespace

const char* ToString(IoPriority p) {
  switch (p) {
    case IoPriority::kHigh:
      return "high";
    case IoPriority::kMedium:
      return "medium";
    case IoPriority::kLow:
      return "low";
  }
  return "low";
}

bool ParseIoPriority(const std::string& text, IoPriority* out) {
  if (text == "high") *out = IoPriority::kHigh;
  else if (text == "medium") *out = IoPriority::kMedium;
  else if (text == "low") *out = IoPriority::kLow;
  else return false;
  return true;
}

StatusOr<std::vector<Pool>> ParsePools(const std::string& text) {
  std::vector<Pool> pools;
  size_t start = 0;
  const std::string how = "; write NAME=SIZE/PRIORITY entries separated by commas, e.g. \"ssd=500Gi/high, hdd=2Ti/low\"";
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    const std::string entry = Trim(text.substr(start, comma - start));
    start = comma + 1;
    if (entry.empty()) {
      if (comma == text.size() && !pools.empty()) break;
      return InvalidArgument("an empty pool entry" + how);
    }
    const size_t eq = entry.find('='), slash = entry.find('/');
    if (eq == std::string::npos || slash == std::string::npos || slash < eq) {
      return InvalidArgument("pool \"" + entry + "\" is not NAME=SIZE/PRIORITY" + how);
    }
    Pool p;
    p.name = Trim(entry.substr(0, eq));
    const std::string size = Trim(entry.substr(eq + 1, slash - eq - 1));
    const std::string priority = Trim(entry.substr(slash + 1));
    if (p.name.empty()) return InvalidArgument("pool \"" + entry + "\" has no name" + how);
    StatusOr<model::Quantity> q = model::Quantity::Parse(size);
    if (!q.ok() || q->Value() <= 0) {
      return InvalidArgument("pool " + p.name + ": \"" + size + "\" is not a size; write e.g. 500Gi or 2Ti");
    }
    p.capacity = static_cast<uint64_t>(q->Value());
    if (!ParseIoPriority(priority, &p.priority)) {
      return InvalidArgument("pool " + p.name + ": \"" + priority + "\" is not an io priority; use high, medium or low");
    }
    for (const Pool& other : pools) {
      if (other.name == p.name) return InvalidArgument("pool " + p.name + " is named twice");
    }
    pools.push_back(std::move(p));
    if (comma == text.size()) break;
  }
  return pools;
}

Status Provisioner::UpsertNode(const model::Node& node) {
  ++generation_;
  NodeInfo& info = nodes_[node.meta.name];
  info.labels = node.meta.labels;
  std::vector<Pool> pools;
  Status status;
  auto it = node.meta.annotations.find(kPoolsAnnotation);
  if (it != node.meta.annotations.end()) {
    StatusOr<std::vector<Pool>> parsed = ParsePools(it->second);
    if (parsed.ok()) {
      pools = std::move(*parsed);
    } else {
      status = InvalidArgument("node " + node.meta.name + ": metadata.annotations[" + kPoolsAnnotation +
                                   "]: " + parsed.status().message(),
                               node.meta.pos.ToString());
    }
  }
  // What is provisioned stays where it is, even if a pool shrank or went.
  for (Pool& p : pools) {
    for (const Pool& old : info.pools) {
      if (old.name == p.name) p.provisioned = old.provisioned;
    }
  }
  for (const Pool& old : info.pools) {
    const bool kept = std::any_of(pools.begin(), pools.end(), [&](const Pool& p) { return p.name == old.name; });
    if (!kept && old.provisioned > 0) {
      Pool gone = old;
      gone.capacity = 0;
      pools.push_back(gone);
    }
  }
  info.pools = std::move(pools);
  return status;
}

void Provisioner::RemoveNode(const std::string& name) {
  ++generation_;
  nodes_.erase(name);
}

void Provisioner::UpsertStorageClass(const model::StorageClass& sc) { classes_[sc.meta.name] = sc; }

Status Provisioner::AddObjects(const std::vector<model::Object>& objects) {
  for (const auto& o : objects) {
    if (const auto* n = std::get_if<model::Node>(&o)) {
      if (Status st = UpsertNode(*n); !st.ok()) return st;
    }
    if (const auto* sc = std::get_if<model::StorageClass>(&o)) UpsertStorageClass(*sc);
  }
  for (const auto& o : objects) {
    std::vector<model::PersistentVolumeClaim> claims;
    if (const auto* c = std::get_if<model::PersistentVolumeClaim>(&o)) claims.push_back(*c);
    if (const auto* ss = std::get_if<model::StatefulSet>(&o)) claims = model::StatefulClaims(*ss);
    for (const model::PersistentVolumeClaim& c : claims) {
      StatusOr<const Volume*> v = UpsertClaim(c);
      if (!v.ok() && v.status().code() != StatusCode::kFailedPrecondition) return v.status();
    }
  }
  for (const auto& o : objects) {
    const auto* p = std::get_if<model::Pod>(&o);
    if (p && !p->spec.node_name.empty()) {
      if (Status st = BindFirstConsumer(*p, p->spec.node_name); !st.ok()) {
        return Status(st.code(), st.message(), p->meta.pos.ToString());
      }
    }
  }
  return Status::Ok();
}

std::vector<Pool> Provisioner::PoolsOf(const std::string& node) const {
  auto it = nodes_.find(node);
  return it == nodes_.end() ? std::vector<Pool>{} : it->second.pools;
}

Pool* Provisioner::FindPool(const Replica& r) {
  auto it = nodes_.find(r.node);
  if (it == nodes_.end()) return nullptr;
  for (Pool& p : it->second.pools) {
    if (p.name == r.pool) return &p;
  }
  return nullptr;
}

StatusOr<Provisioner::Request> Provisioner::RequestFor(const model::PersistentVolumeClaim& claim,
                                                       const model::StorageClass** out) const {
  const std::string name = Key(claim.meta.namespace_, claim.meta.name);
  const model::StorageClass* sc = nullptr;
  if (!claim.storage_class_name) {
    for (const auto& [n, c] : classes_) {
      auto d = c.meta.annotations.find("storageclass.kubernetes.io/is-default-class");
      if (d != c.meta.annotations.end() && d->second == "true") sc = &c;
    }
    if (!sc) {
      return NotFound("claim " + name + " names no storageClassName and no class is the default; "
                      "set spec.storageClassName",
                      claim.meta.pos.ToString());
    }
  } else {
    auto it = classes_.find(*claim.storage_class_name);
    if (it == classes_.end()) {
      return NotFound("claim " + name + ": no StorageClass \"" + *claim.storage_class_name + "\"",
                      claim.meta.pos.ToString());
    }
    sc = &it->second;
  }
  if (!IsPortworx(*sc)) {
    return InvalidArgument("claim " + name + ": class " + sc->meta.name + " is provisioned by \"" +
                               sc->provisioner + "\"; edgebed provisions pxd.portworx.com classes",
                           claim.meta.pos.ToString());
  }
  const model::PortworxParameters& px = *sc->portworx;
  if (!claim.storage || claim.storage->Value() <= 0) {
    return InvalidArgument("claim " + name + ": spec.resources.requests.storage is required", claim.meta.pos.ToString());
  }
  const bool many = std::find(claim.access_modes.begin(), claim.access_modes.end(), "ReadWriteMany") !=
                    claim.access_modes.end();
  if (many && !px.sharedv4) {
    return InvalidArgument("claim " + name + " asks for ReadWriteMany but class " + sc->meta.name +
                               " is not sharedv4; set parameters.sharedv4: \"true\"",
                           claim.meta.pos.ToString());
  }
  if (px.io_profile == "db_remote" && px.repl < 2) {
    return InvalidArgument("class " + sc->meta.name + ": io_profile db_remote needs repl 2 or 3",
                           sc->meta.pos.ToString());
  }
  if (px.io_profile == "sync_shared" && !px.sharedv4) {
    return InvalidArgument("class " + sc->meta.name + ": io_profile sync_shared needs sharedv4",
                           sc->meta.pos.ToString());
  }
  Request r;
  r.name = name;
  r.size = static_cast<uint64_t>(claim.storage->Value());
  r.repl = px.repl;
  if (!ParseIoPriority(px.priority_io, &r.priority)) r.priority = IoPriority::kLow;
  *out = sc;
  return r;
}

StatusOr<std::vector<Replica>> Provisioner::Place(const Request& request, const std::string& first) const {
  struct Candidate {
    std::string node, pool;
    uint64_t free;
    std::string building, floor;
  };
  std::vector<Candidate> candidates;
  std::vector<std::string> why;  // per node that does not qualify
  for (const auto& [name, info] : nodes_) {
    const Pool* best = nullptr;
    const Pool* closest = nullptr;  // of the right priority, too small
    for (const Pool& p : info.pools) {
      if (p.priority != request.priority) continue;
      if (p.free() >= request.size) {
        if (!best || p.free() > best->free()) best = &p;
      } else if (!closest || p.free() > closest->free()) {
        closest = &p;
      }
    }
    if (best) {
      candidates.push_back({name, best->name, best->free(), BuildingOf(info.labels), FloorOf(info.labels)});
    } else if (closest) {
      why.push_back(name + ": " + std::string(ToString(request.priority)) + " pool " + closest->name + " has " +
                    Bytes(closest->free()) + " free");
    } else {
      why.push_back(name + (info.pools.empty() ? ": no storage pools"
                                               : ": no " + std::string(ToString(request.priority)) + " pool"));
    }
  }
  const auto explain = [&](const std::string& head) {
    std::string s = head;
    const size_t shown = std::min<size_t>(why.size(), 4);
    for (size_t i = 0; i < shown; ++i) s += (i ? "; " : " (") + why[i];
    if (why.size() > shown) s += "; and " + std::to_string(why.size() - shown) + " more";
    if (shown) s += ")";
    return s;
  };
  const std::string needs = "needs " + std::to_string(request.repl) + " replica" + (request.repl > 1 ? "s" : "") +
                            " on distinct nodes, each in a " + ToString(request.priority) + " pool with " +
                            Bytes(request.size) + " free";
  if (static_cast<int>(candidates.size()) < request.repl) {
    return FailedPrecondition(explain("volume " + request.name + " " + needs + "; " +
                                      std::to_string(candidates.size()) + " node" +
                                      (candidates.size() == 1 ? "" : "s") + " can hold one"));
  }
  std::vector<Replica> chosen;
  std::set<std::string> buildings, floors;
  const auto take = [&](size_t i) {
    chosen.push_back({candidates[i].node, candidates[i].pool});
    if (!candidates[i].building.empty()) buildings.insert(candidates[i].building);
    if (!candidates[i].floor.empty()) floors.insert(candidates[i].floor);
    candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(i));
  };
  if (!first.empty()) {
    auto it = std::find_if(candidates.begin(), candidates.end(), [&](const Candidate& c) { return c.node == first; });
    if (it == candidates.end()) {
      auto reason = std::find_if(why.begin(), why.end(), [&](const std::string& w) { return w.rfind(first + ":", 0) == 0; });
      return FailedPrecondition("volume " + request.name + ": node " + first + " cannot hold a replica (" +
                                (reason != why.end() ? reason->substr(first.size() + 2) : "unknown node") + ")");
    }
    take(static_cast<size_t>(it - candidates.begin()));
  }
  while (static_cast<int>(chosen.size()) < request.repl) {
    size_t best = 0;
    const auto rank = [&](const Candidate& c) {
      const bool new_building = !c.building.empty() && !buildings.count(c.building);
      const bool new_floor = !c.floor.empty() && !floors.count(c.floor);
      return std::make_tuple(new_building, new_floor, c.free);
    };
    for (size_t i = 1; i < candidates.size(); ++i) {
      if (rank(candidates[i]) > rank(candidates[best])) best = i;  // ties: the first by name
    }
    take(best);
  }
  return chosen;
}

bool Provisioner::Placeable(const Request& request) const {
  auto& [generation, answer] = placeable_[{request.priority, request.size, request.repl}];
  if (generation == generation_ + 1) return answer;
  int candidates = 0;
  for (const auto& [name, info] : nodes_) {
    const bool fits = std::any_of(info.pools.begin(), info.pools.end(), [&](const Pool& p) {
      return p.priority == request.priority && p.free() >= request.size;
    });
    if (fits && ++candidates >= request.repl) break;
  }
  generation = generation_ + 1;  // 0 is never valid
  answer = candidates >= request.repl;
  return answer;
}

StatusOr<const Volume*> Provisioner::Create(const model::PersistentVolumeClaim& claim, const std::string& first) {
  const model::StorageClass* sc = nullptr;
  StatusOr<Request> request = RequestFor(claim, &sc);
  if (!request.ok()) return request.status();
  StatusOr<std::vector<Replica>> replicas = Place(*request, first);
  if (!replicas.ok()) return replicas.status();
  return Record(claim, *request, *sc, std::move(*replicas));
}

const Volume* Provisioner::Record(const model::PersistentVolumeClaim& claim, const Request& request,
                                  const model::StorageClass& sc, std::vector<Replica> replicas) {
  Volume v;
  v.name = request.name;
  v.storage_class = sc.meta.name;
  v.size = request.size;
  v.repl = request.repl;
  v.sharedv4 = sc.portworx->sharedv4;
  v.io_profile = sc.portworx->io_profile;
  v.priority = request.priority;
  v.labels = claim.meta.labels;
  v.replicas = std::move(replicas);
  ++generation_;
  for (const Replica& r : v.replicas)
    if (Pool* pool = FindPool(r)) pool->provisioned += v.size;
  auto [it, added] = volumes_.insert_or_assign(v.name, std::move(v));
  return &it->second;
}

StatusOr<const Volume*> Provisioner::UpsertClaim(const model::PersistentVolumeClaim& claim) {
  const std::string name = Key(claim.meta.namespace_, claim.meta.name);
  claims_[name] = claim;
  if (auto it = volumes_.find(name); it != volumes_.end()) return &it->second;
  const model::StorageClass* sc = nullptr;
  StatusOr<Request> request = RequestFor(claim, &sc);
  if (!request.ok()) return request.status();
  if (sc->volume_binding_mode == "WaitForFirstConsumer") return static_cast<const Volume*>(nullptr);
  return Create(claim, "");
}

Status Provisioner::Adopt(const model::PersistentVolumeClaim& claim, const std::vector<Replica>& replicas) {
  const model::StorageClass* sc = nullptr;
  StatusOr<Request> request = RequestFor(claim, &sc);
  if (!request.ok()) return request.status();
  claims_[request->name] = claim;
  Record(claim, *request, *sc, replicas);
  return Status::Ok();
}

Status Provisioner::DeleteClaim(const std::string& ns, const std::string& name) {
  const std::string key = Key(ns, name);
  claims_.erase(key);
  auto it = volumes_.find(key);
  if (it == volumes_.end()) return NotFound("no volume for claim " + key);
  for (const Replica& r : it->second.replicas) {
    if (Pool* p = FindPool(r)) p->provisioned -= std::min(p->provisioned, it->second.size);
  }
  ++generation_;
  volumes_.erase(it);
  return Status::Ok();
}

const Volume* Provisioner::Find(const std::string& ns, const std::string& claim) const {
  auto it = volumes_.find(Key(ns, claim));
  return it == volumes_.end() ? nullptr : &it->second;
}

std::vector<std::pair<std::string, Replica>> Provisioner::LostReplicas() const {
  std::vector<std::pair<std::string, Replica>> lost;
  for (const auto& [name, v] : volumes_) {
    for (const Replica& r : v.replicas) {
      if (!nodes_.count(r.node)) lost.emplace_back(name, r);
    }
  }
  return lost;
}

Status Provisioner::BindFirstConsumer(const model::Pod& pod, const std::string& node) {
  for (const model::PodVolume& pv : pod.spec.volumes) {
    if (!pv.claim_name) continue;
    const std::string key = Key(pod.meta.namespace_, *pv.claim_name);
    auto v = volumes_.find(key);
    if (v == volumes_.end()) {
      auto claim = claims_.find(key);
      if (claim == claims_.end()) return NotFound("pod " + Key(pod.meta.namespace_, pod.meta.name) + " mounts claim " + key + ", which does not exist");
      // Beside the pod where a replica fits there; else wherever it fits.
      StatusOr<const Volume*> created = Create(claim->second, node);
      if (!created.ok()) created = Create(claim->second, "");
      if (!created.ok()) return created.status();
      v = volumes_.find(key);
    }
    Volume& volume = v->second;
    if (!volume.sharedv4 && !volume.attached.empty() && !volume.attached.count(node)) {
      return FailedPrecondition("volume " + key + " is ReadWriteOnce and attached on " + *volume.attached.begin());
    }
    volume.attached.insert(node);
  }
  return Status::Ok();
}

void Provisioner::ReleaseConsumer(const model::Pod& pod, const std::string& node) {
  for (const model::PodVolume& pv : pod.spec.volumes) {
    if (!pv.claim_name) continue;
    auto v = volumes_.find(Key(pod.meta.namespace_, *pv.claim_name));
    if (v != volumes_.end()) v->second.attached.erase(node);
  }
}

std::string Provisioner::CannotPlace(const model::Pod& pod, const model::Node& node) const {
  auto info = nodes_.find(node.meta.name);
  if (info == nodes_.end() || info->second.pools.empty()) {
    return "node(s) ran no storage driver (no " + std::string(kPoolsAnnotation) + ")";
  }
  for (const model::PodVolume& pv : pod.spec.volumes) {
    if (!pv.claim_name) continue;
    const std::string key = Key(pod.meta.namespace_, *pv.claim_name);
    auto v = volumes_.find(key);
    if (v != volumes_.end()) {
      const Volume& volume = v->second;
      if (!volume.sharedv4 && !volume.attached.empty() && !volume.attached.count(node.meta.name)) {
        return "node(s) could not attach volume " + key + " (ReadWriteOnce, attached on " +
               *volume.attached.begin() + ")";
      }
      continue;
    }
    auto claim = claims_.find(key);
    if (claim == claims_.end()) return "persistentvolumeclaim \"" + *pv.claim_name + "\" not found";
    const model::StorageClass* sc = nullptr;
    StatusOr<Request> request = RequestFor(claim->second, &sc);
    if (!request.ok()) return "volume " + key + " cannot be provisioned: " + request.status().message();
    if (sc->volume_binding_mode != "WaitForFirstConsumer") return "pod has unbound immediate PersistentVolumeClaims";
    // WaitForFirstConsumer: placeable with a replica here, or anywhere at
    // all — either way, as long as enough nodes can each hold a replica.
    if (!Placeable(*request)) {
      return "node(s) could not provision volume " + key;
    }
  }
  return "";
}

int Provisioner::Locality(const model::Pod& pod, const model::Node& node) const {
  int claims = 0, local = 0;
  for (const model::PodVolume& pv : pod.spec.volumes) {
    if (!pv.claim_name) continue;
    ++claims;
    const Volume* v = Find(pod.meta.namespace_, *pv.claim_name);
    if (!v) continue;
    for (const Replica& r : v->replicas) {
      if (r.node == node.meta.name) {
        ++local;
        break;
      }
    }
  }
  return claims == 0 ? 0 : 100 * local / claims;
}

}  // namespace edgebed::storage

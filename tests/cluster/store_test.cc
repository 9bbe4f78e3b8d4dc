// Store: revisions, conditional mutations, history and compaction, and the
// checkpoint as an SQLite file — examples that pin each rule of store.h, then
// a differential test that runs random batches, reads, compactions and
// checkpoint round trips against the plain model in store_model.h.
//
// Randomized tests print their seed on failure; EDGEBED_SEED=N replays one.
#include "core/cluster/store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "tests/cluster/store_model.h"

namespace edgebed::cluster {
namespace {

using testing::Describe;
using testing::StoreModel;

Mutation Put(std::string key, std::string value, Revision expect = -1) {
  return Mutation{Mutation::kPut, std::move(key), ToBytes(value), expect};
}
Mutation Del(std::string key, Revision expect = -1) {
  return Mutation{Mutation::kDelete, std::move(key), {}, expect};
}
std::string Value(const std::optional<Record>& r) {
  return r ? std::string(r->value.begin(), r->value.end()) : "<absent>";
}
std::vector<std::string> Keys(const std::vector<Record>& records) {
  std::vector<std::string> keys;
  for (const Record& r : records) keys.push_back(r.key);
  return keys;
}
template <typename T>
T Must(StatusOr<T> v) {
  if (!v.ok()) {
    ADD_FAILURE() << v.status().ToString();
    return T{};
  }
  return std::move(*v);
}

TEST(StoreTest, EveryChangeTakesTheNextRevision) {
  auto store = NewSqliteStore();
  EXPECT_EQ(store->revision(), 0);
  EXPECT_EQ(Must(store->Commit({Put("a", "1")})), 1);
  EXPECT_EQ(Must(store->Commit({Put("b", "1"), Put("a", "2")})), 3);
  // An identical value still counts as a change.
  EXPECT_EQ(Must(store->Commit({Put("a", "2")})), 4);
  // Deleting a missing key changes nothing, and an empty batch neither.
  EXPECT_EQ(Must(store->Commit({Del("nope")})), 4);
  EXPECT_EQ(Must(store->Commit({})), 4);

  std::optional<Record> a = store->Get("a");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(Value(a), "2");
  EXPECT_EQ(a->create_revision, 1);
  EXPECT_EQ(a->mod_revision, 4);

  EXPECT_EQ(Must(store->Commit({Del("a")})), 5);
  EXPECT_FALSE(store->Get("a").has_value());
  // Created again: a new incarnation with its own create_revision.
  EXPECT_EQ(Must(store->Commit({Put("a", "3")})), 6);
  EXPECT_EQ(store->Get("a")->create_revision, 6);
  EXPECT_EQ(store->revision(), 6);
}

TEST(StoreTest, ExpectationsGuardEachMutation) {
  auto store = NewSqliteStore();
  ASSERT_EQ(Must(store->Commit({Put("a", "1", /*expect=*/0)})), 1);  // create if absent

  StatusOr<Revision> again = store->Commit({Put("a", "x", 0)});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(again.status().where(), "a");
  EXPECT_NE(again.status().message().find("mod_revision 1"), std::string::npos)
      << again.status().message();

  StatusOr<Revision> stale = store->Commit({Put("a", "x", 7)});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(stale.status().message().find("7"), std::string::npos);
  EXPECT_NE(stale.status().message().find("1"), std::string::npos);

  EXPECT_EQ(Must(store->Commit({Put("a", "2", 1)})), 2);  // compare-and-swap
  StatusOr<Revision> gone = store->Commit({Del("missing", 3)});
  ASSERT_FALSE(gone.ok());
  EXPECT_NE(gone.status().message().find("absent (revision 0)"), std::string::npos)
      << gone.status().ToString();
  // "Must not exist" holds for a missing key, so deleting it is a quiet no-op.
  EXPECT_EQ(Must(store->Commit({Del("missing", 0)})), 2);
  EXPECT_EQ(Value(store->Get("a")), "2");
}

TEST(StoreTest, ABatchIsAllOrNoneAndSeesItsOwnEarlierMutations) {
  auto store = NewSqliteStore();
  ASSERT_TRUE(store->Commit({Put("a", "1")}).ok());
  // The second mutation expects the revision the first one takes.
  EXPECT_EQ(Must(store->Commit({Put("b", "1", 0), Put("b", "2", 2), Del("a", 1)})), 4);
  EXPECT_EQ(Value(store->Get("b")), "2");
  EXPECT_FALSE(store->Get("a").has_value());

  // The last mutation fails: the first two leave no trace.
  StatusOr<Revision> r = store->Commit({Put("c", "1"), Del("b"), Put("d", "1", 99)});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().where(), "d");
  EXPECT_EQ(store->revision(), 4);
  EXPECT_FALSE(store->Get("c").has_value());
  EXPECT_EQ(Value(store->Get("b")), "2");
  EXPECT_EQ(Must(store->ChangesSince(4, 10)).size(), 0u);
}

TEST(StoreTest, RejectsBadMutations) {
  auto store = NewSqliteStore();
  StatusOr<Revision> empty = store->Commit({Put("ok", "1"), Put("", "1")});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(empty.status().where(), "batch[1]");
  EXPECT_EQ(store->Commit({Put(std::string(kMaxKeySize + 1, 'k'), "1")}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Commit({Put("k", "1", -2)}).status().code(), StatusCode::kInvalidArgument);
  Mutation odd = Put("k", "1");
  odd.op = static_cast<Mutation::Op>(7);
  EXPECT_EQ(store->Commit({odd}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(store->revision(), 0);
  EXPECT_FALSE(store->Get("ok").has_value());
}

TEST(StoreTest, ListsByPrefixInByteOrder) {
  auto store = NewSqliteStore();
  const std::string nul("a\0b", 3);
  ASSERT_TRUE(store->Commit({Put("b", "1"), Put("a/2", "1"), Put("a/1", "1"), Put("a", "1"),
                             Put("a\xff", "1"), Put(nul, "1"), Put("ab", "1"), Put("\xff\xff", "1")})
                  .ok());
  ASSERT_TRUE(store->Commit({Del("a/2")}).ok());
  EXPECT_EQ(Keys(store->List("a/")), (std::vector<std::string>{"a/1"}));
  EXPECT_EQ(Keys(store->List("a")),
            (std::vector<std::string>{"a", nul, "a/1", "ab", "a\xff"}));
  EXPECT_EQ(Keys(store->List("\xff")), (std::vector<std::string>{"\xff\xff"}));
  EXPECT_EQ(store->List("").size(), 7u);
  EXPECT_EQ(Keys(store->List("zz")), std::vector<std::string>{});
  const std::vector<Record> one = store->List(nul);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].key, nul);  // a NUL inside a key survives the round trip
}

TEST(StoreTest, ChangesSinceReportsEachRevisionWithWhatItReplaced) {
  auto store = NewSqliteStore();
  ASSERT_TRUE(store->Commit({Put("a", "1")}).ok());
  ASSERT_TRUE(store->Commit({Put("a", "2"), Put("b", "")}).ok());
  ASSERT_TRUE(store->Commit({Del("a")}).ok());
  EXPECT_EQ(Describe(Must(store->ChangesSince(0, 100))),
            "1 a = '1' was ''\n"
            "2 a = '2' was '1'\n"
            "3 b = '' was ''\n"
            "4 a deleted was '2'\n");
  EXPECT_EQ(Describe(Must(store->ChangesSince(1, 2))),
            "2 a = '2' was '1'\n"
            "3 b = '' was ''\n");
  EXPECT_TRUE(Must(store->ChangesSince(4, 100)).empty());
  EXPECT_TRUE(Must(store->ChangesSince(0, 0)).empty());
}

TEST(StoreTest, CompactionForgetsHistoryButKeepsCurrentValues) {
  auto store = NewSqliteStore();
  ASSERT_TRUE(store->Commit({Put("old", "kept")}).ok());          // 1
  ASSERT_TRUE(store->Commit({Put("a", "1")}).ok());               // 2
  ASSERT_TRUE(store->Commit({Put("a", "2")}).ok());               // 3
  ASSERT_TRUE(store->Commit({Put("gone", "x"), Del("gone")}).ok());  // 4, 5
  ASSERT_TRUE(store->Commit({Put("a", "3")}).ok());               // 6

  store->Compact(5);
  EXPECT_EQ(store->compacted(), 5);
  StatusOr<std::vector<Change>> behind = store->ChangesSince(4, 10);
  ASSERT_FALSE(behind.ok());
  EXPECT_EQ(behind.status().code(), StatusCode::kOutOfRange);
  EXPECT_NE(behind.status().message().find("compacted at 5; list again"), std::string::npos);
  // Above the compaction point nothing is lost, the replaced value included.
  EXPECT_EQ(Describe(Must(store->ChangesSince(5, 10))), "6 a = '3' was '2'\n");

  EXPECT_EQ(Value(store->Get("old")), "kept");
  EXPECT_EQ(store->Get("old")->mod_revision, 1);
  EXPECT_FALSE(store->Get("gone").has_value());
  EXPECT_EQ(Keys(store->List("")), (std::vector<std::string>{"a", "old"}));

  // Compacting through a tombstone at the newest revision keeps the counter.
  ASSERT_TRUE(store->Commit({Del("a")}).ok());  // 7
  store->Compact(100);                          // clamped to the revision
  EXPECT_EQ(store->compacted(), 7);
  EXPECT_EQ(store->revision(), 7);
  EXPECT_TRUE(Must(store->ChangesSince(7, 10)).empty());
  EXPECT_EQ(Must(store->Commit({Put("a", "4", 0)})), 8);
  store->Compact(3);  // behind: nothing happens
  EXPECT_EQ(store->compacted(), 7);
}

TEST(StoreTest, CheckpointRestoresEverything) {
  auto store = NewSqliteStore();
  ASSERT_TRUE(store->Commit({Put("a", "1"), Put("b", "2")}).ok());
  ASSERT_TRUE(store->Commit({Del("a"), Put("c", "3")}).ok());
  store->Compact(2);
  const Bytes image = Must(store->Checkpoint());

  auto copy = NewSqliteStore();
  ASSERT_TRUE(copy->Commit({Put("junk", "x")}).ok());  // replaced whole
  ASSERT_TRUE(copy->Restore(image).ok());
  EXPECT_EQ(copy->revision(), 4);
  EXPECT_EQ(copy->compacted(), 2);
  EXPECT_EQ(Describe(copy->List("")), Describe(store->List("")));
  EXPECT_EQ(Describe(Must(copy->ChangesSince(2, 10))), Describe(Must(store->ChangesSince(2, 10))));
  // Both go on alike.
  EXPECT_EQ(Must(copy->Commit({Put("d", "4")})), Must(store->Commit({Put("d", "4")})));
  EXPECT_EQ(Describe(copy->Get("d")), Describe(store->Get("d")));
}

TEST(StoreTest, RestoreRefusesWhatIsNotAStoreAndKeepsItsState) {
  auto store = NewSqliteStore();
  ASSERT_TRUE(store->Commit({Put("a", "1")}).ok());
  const Bytes good = Must(store->Checkpoint());

  Random random(1);
  Bytes garbage(8192);
  for (auto& b : garbage) b = static_cast<uint8_t>(random.Next());
  Bytes torn(good.begin(), good.begin() + good.size() / 2);
  Bytes bad_magic = good;
  bad_magic[0] = 'X';

  // Another SQLite database is not a store either.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE kine (x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_int64 size = 0;
  unsigned char* other_data = sqlite3_serialize(db, "main", &size, 0);
  Bytes other(other_data, other_data + size);
  sqlite3_free(other_data);
  sqlite3_close(db);

  const std::vector<const Bytes*> images = {&garbage, &torn, &bad_magic, &other, nullptr};
  for (const Bytes* image : images) {
    Status s = image ? store->Restore(*image) : store->Restore(ByteView());
    EXPECT_FALSE(s.ok());
    EXPECT_NE(s.code(), StatusCode::kInternal) << s.ToString();
    EXPECT_EQ(store->revision(), 1) << s.ToString();
    EXPECT_EQ(Value(store->Get("a")), "1") << s.ToString();
  }
  EXPECT_TRUE(store->Restore(good).ok());
}

// What a person does with a checkpoint: open it with sqlite3.
TEST(StoreTest, CheckpointIsAnSqliteDatabaseFile) {
  auto store = NewSqliteStore();
  ASSERT_TRUE(store->Commit({Put("/registry/pods/a", "spec-a"), Put("/registry/pods/b", "b")}).ok());
  ASSERT_TRUE(store->Commit({Del("/registry/pods/b")}).ok());
  const Bytes image = Must(store->Checkpoint());

  const std::string path = ::testing::TempDir() + "edgebed_store_checkpoint.db";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(image.data()), static_cast<std::streamsize>(image.size()));
    ASSERT_TRUE(out.good());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT id, name, deleted, create_revision, prev_revision FROM kine "
                               "ORDER BY id",
                               -1, &s, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  std::string rows;
  while (sqlite3_step(s) == SQLITE_ROW) {
    for (int c = 0; c < 5; ++c) {
      rows += reinterpret_cast<const char*>(sqlite3_column_text(s, c));
      rows += c == 4 ? "\n" : " ";
    }
  }
  sqlite3_finalize(s);
  EXPECT_EQ(rows,
            "1 /registry/pods/a 0 1 0\n"
            "2 /registry/pods/b 0 2 0\n"
            "3 /registry/pods/b 1 2 2\n");
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "ok");
  sqlite3_finalize(s);
  sqlite3_close(db);
  std::remove(path.c_str());
}

// Random batches, reads, compactions and checkpoint round trips, against the
// model, over many seeds.
TEST(StoreTest, MatchesTheModel) {
  int failures = 0;
  for (uint64_t seed : testing::Seeds(200)) {
    SCOPED_TRACE(testing::Replay(seed));
    Random random(seed);
    auto store = NewSqliteStore();
    StoreModel model;
    const auto& keys = testing::ModelKeys();
    for (int step = 0; step < 120 && !::testing::Test::HasFailure(); ++step) {
      SCOPED_TRACE("step " + std::to_string(step));
      const std::vector<Mutation> batch = testing::RandomBatch(random, model, 4);
      StatusOr<Revision> want = model.Commit(batch);
      StatusOr<Revision> got = store->Commit(batch);
      ASSERT_EQ(got.ok(), want.ok()) << got.status().ToString();
      if (got.ok()) {
        ASSERT_EQ(*got, *want);
      } else {
        ASSERT_EQ(got.status().code(), StatusCode::kFailedPrecondition);
        ASSERT_EQ(got.status().where(), want.status().where());
      }
      ASSERT_EQ(store->revision(), model.revision());

      const std::string& key = keys[random.Uniform(keys.size())];
      ASSERT_EQ(Describe(store->Get(key)), Describe(model.Get(key)));
      const std::string prefix = key.substr(0, random.Uniform(key.size() + 1));
      ASSERT_EQ(Describe(store->List(prefix)), Describe(model.List(prefix)))
          << "prefix " << testing::Printable(prefix);

      const Revision since = static_cast<Revision>(random.Uniform(model.revision() + 2));
      const size_t limit = random.Uniform(8);
      StatusOr<std::vector<Change>> changes = store->ChangesSince(since, limit);
      if (since < model.compacted()) {
        ASSERT_FALSE(changes.ok());
        ASSERT_EQ(changes.status().code(), StatusCode::kOutOfRange);
      } else {
        ASSERT_TRUE(changes.ok()) << changes.status().ToString();
        ASSERT_EQ(Describe(*changes), Describe(model.ChangesSince(since, limit)));
      }

      if (random.Uniform(15) == 0) {
        const Revision upto = static_cast<Revision>(random.Uniform(model.revision() + 3));
        store->Compact(upto);
        model.Compact(upto);
        ASSERT_EQ(store->compacted(), model.compacted());
      }
      if (random.Uniform(25) == 0) {
        // Carry on in a store restored from a checkpoint.
        auto restored = NewSqliteStore();
        ASSERT_TRUE(restored->Restore(Must(store->Checkpoint())).ok());
        store = std::move(restored);
        ASSERT_EQ(store->compacted(), model.compacted());
      }
    }
    ASSERT_EQ(Describe(store->List("")), Describe(model.List("")));
    if (::testing::Test::HasFailure() && ++failures >= 3) break;
  }
}

}  // namespace
}  // namespace edgebed::cluster

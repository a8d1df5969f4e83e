#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <numeric>
#include <filesystem>
#include <random>
#include <regex>

#include "../test_util.h"
#include "components/registry.h"
#include "config/loader.h"
#include "extensions/file_storage/file_storage.h"
#include "extensions/file_storage/log_tail.h"
#include "extensions/storage/storage.h"

namespace otelite {
namespace {

namespace fs = std::filesystem;
using extensions::StorageClient;
using extensions::StorageExtension;
using ::testing::HasSubstr;

const ComponentId kOwner("otlp", "backend");
const char kClientName[] = "traces";
const char kDbName[] = "exporter_otlp_backend_traces";

// An 8-byte big-endian key: byte order is numeric order.
std::string Key(uint64_t i) {
  std::string k(8, '\0');
  for (int b = 7; b >= 0; --b, i >>= 8) k[size_t(b)] = char(i & 0xFF);
  return k;
}
uint64_t KeyNumber(std::string_view k) {
  uint64_t n = 0;
  for (char c : k) n = (n << 8) | uint8_t(c);
  return n;
}
// A value derived from the key, `size` bytes, incompressible enough that sizes on disk are real.
std::string Value(uint64_t i, size_t size = 64) {
  std::mt19937_64 rng(i * 7919 + 17);
  std::string v(size, '\0');
  for (auto& c : v) c = char(rng());
  return v;
}

// A logger whose lines ("<level> <message>") land in a string. The storage logs from its
// background thread too, so the string is read under the sink's own lock (ringbuffer sink).
struct CapturedLog {
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink =
      std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(4096);
  std::shared_ptr<spdlog::logger> logger;
  CapturedLog() {
    sink->set_pattern("%l %v");
    logger = std::make_shared<spdlog::logger>("extension/file_storage/x", sink);
    logger->set_level(spdlog::level::debug);
  }
  std::string Text() const {
    std::string text;
    for (const auto& line : sink->last_formatted()) text += line;
    return text;
  }
  std::vector<std::string> Lines(const std::string& level) const {
    std::vector<std::string> lines;
    std::istringstream in(Text());
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with(level + " ")) lines.push_back(line);
    }
    return lines;
  }
  std::vector<std::string> Warnings() const { return Lines("warning"); }
  std::string All() const { return Text(); }
};

const ExtensionFactory& Factory() {
  return *static_cast<const ExtensionFactory*>(
      BuiltinRegistry().Find(Kind::kExtension, "file_storage").factory);
}

std::unique_ptr<ComponentConfig> ParseConfig(const std::string& yaml, config::Errors& errors) {
  auto node = config::ParseYaml(yaml, "storage.yaml", errors);
  return Factory().ParseConfig(node, config::Ctx{errors, "extensions.file_storage/x"});
}

struct Storage {
  Storage() = default;
  Storage(Storage&&) = default;
  std::unique_ptr<Extension> extension;
  std::string start_error;
  StorageExtension& ext() { return static_cast<StorageExtension&>(*extension); }
  std::unique_ptr<StorageClient> Client(Kind kind = Kind::kExporter, ComponentId owner = kOwner,
                                        const std::string& name = kClientName) {
    std::string error;
    auto client = ext().GetClient(kind, owner, name, &error);
    EXPECT_TRUE(client) << error;
    return client;
  }
  ~Storage() {
    if (extension) extension->Shutdown(Clock::now());
  }
};

// A started file_storage/x with `yaml` as its config (directory must be in it).
Storage Make(testing::FakeHost& host, const std::string& yaml,
             std::shared_ptr<spdlog::logger> logger = nullptr) {
  config::Errors errors;
  auto cfg = ParseConfig(yaml, errors);
  for (const auto& e : errors.all()) ADD_FAILURE() << e.str();
  Storage s;
  s.extension = Factory().Create(CreateSettings{ComponentId("file_storage", "x"), nullptr,
                                                std::move(logger)},
                                 *cfg);
  s.start_error = s.extension->Start(host);
  return s;
}
std::string DirConfig(const testing::TempDir& dir) {
  return "directory: " + dir.path().string() + "\n";
}

void PutRange(StorageClient& client, uint64_t from, uint64_t to, size_t value_size = 64) {
  for (uint64_t i = from; i < to; ++i) ASSERT_EQ(client.Put(Key(i), Value(i, value_size)), "");
}

// Every key in the store, in iteration order.
std::vector<uint64_t> Keys(StorageClient& client) {
  std::vector<uint64_t> keys;
  EXPECT_EQ(client.ForEach([&](std::string_view k, std::string_view v) {
              keys.push_back(KeyNumber(k));
              return true;
            }),
            "");
  return keys;
}

// Checks that every stored value is the one written for its key; returns the keys.
std::vector<uint64_t> CheckedKeys(StorageClient& client, size_t value_size = 64) {
  std::vector<uint64_t> keys;
  EXPECT_EQ(client.ForEach([&](std::string_view k, std::string_view v) {
              uint64_t n = KeyNumber(k);
              EXPECT_EQ(v, Value(n, value_size)) << "wrong value for key " << n;
              keys.push_back(n);
              return true;
            }),
            "");
  return keys;
}

// Bytes of the files in `dir` (LevelDB may delete some while they are counted).
uint64_t DirBytes(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    std::error_code size_ec;
    uint64_t size = e.file_size(size_ec);
    if (!size_ec) total += size;
  }
  return total;
}

// The newest write-ahead log of a database.
fs::path NewestLog(const fs::path& db) {
  fs::path newest;
  for (const auto& e : fs::directory_iterator(db)) {
    if (e.path().extension() == ".log" &&
        (newest.empty() || e.path().filename() > newest.filename())) {
      newest = e.path();
    }
  }
  return newest;
}

TEST(FileStorage, NamesDatabasesAsOtelcol) {
  using extensions::file_storage::FileName;
  EXPECT_EQ(FileName(Kind::kReceiver, ComponentId("filelog", "logs"), ""), "receiver_filelog_logs");
  EXPECT_EQ(FileName(Kind::kExporter, ComponentId("otlp"), "traces"), "exporter_otlp__traces");
  EXPECT_EQ(FileName(Kind::kReceiver, ComponentId("filelog", "logs/container"), ""),
            "receiver_filelog_logs~002Fcontainer");
  EXPECT_EQ(FileName(Kind::kExtension, ComponentId("a", "b~c d"), "é"),
            "extension_a_b~007Ec~0020d_~00E9");
}

TEST(FileStorage, PutGetDeleteAndForEachInKeyOrder) {
  testing::TempDir dir;
  testing::FakeHost host;
  Storage s = Make(host, DirConfig(dir));
  ASSERT_EQ(s.start_error, "");
  auto client = s.Client();
  ASSERT_TRUE(client);

  std::vector<uint64_t> numbers = {7, 1, 255, 256, 65535, 65536, 1ULL << 40, 0, 3, 1000000};
  for (uint64_t n : numbers) ASSERT_EQ(client->Put(Key(n), Value(n)), "");
  std::vector<uint64_t> sorted = numbers;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(Keys(*client), sorted);

  std::optional<std::string> value;
  ASSERT_EQ(client->Get(Key(65536), &value), "");
  EXPECT_EQ(value, Value(65536));
  ASSERT_EQ(client->Put(Key(65536), "replaced"), "");
  ASSERT_EQ(client->Get(Key(65536), &value), "");
  EXPECT_EQ(value, "replaced");

  ASSERT_EQ(client->Delete(Key(256)), "");
  ASSERT_EQ(client->Delete(Key(424242)), "") << "deleting an absent key is not an error";
  ASSERT_EQ(client->Get(Key(256), &value), "");
  EXPECT_EQ(value, std::nullopt);
  sorted.erase(std::find(sorted.begin(), sorted.end(), 256));
  EXPECT_EQ(Keys(*client), sorted);

  // ForEach stops when the callback says so.
  std::vector<uint64_t> first_three;
  ASSERT_EQ(client->ForEach([&](std::string_view k, std::string_view) {
    first_three.push_back(KeyNumber(k));
    return first_three.size() < 3;
  }),
            "");
  EXPECT_EQ(first_three, (std::vector<uint64_t>{0, 1, 3}));

  // Two clients of one component are separate stores, in otelcol's file names.
  auto logs = s.Client(Kind::kExporter, kOwner, "logs");
  ASSERT_TRUE(logs);
  EXPECT_TRUE(Keys(*logs).empty());
  EXPECT_TRUE(fs::is_directory(dir.path() / kDbName));
  EXPECT_TRUE(fs::is_directory(dir.path() / "exporter_otlp_backend_logs"));
}

TEST(FileStorage, DataSurvivesCloseAndReopen) {
  testing::TempDir dir;
  testing::FakeHost host;
  {
    Storage s = Make(host, DirConfig(dir) + "fsync: true\n");
    ASSERT_EQ(s.start_error, "");
    auto client = s.Client();
    PutRange(*client, 0, 200);
    for (uint64_t i = 0; i < 200; i += 2) ASSERT_EQ(client->Delete(Key(i)), "");
  }
  Storage s = Make(host, DirConfig(dir));
  ASSERT_EQ(s.start_error, "");
  auto client = s.Client();
  std::vector<uint64_t> want;
  for (uint64_t i = 1; i < 200; i += 2) want.push_back(i);
  EXPECT_EQ(CheckedKeys(*client), want);
}

TEST(FileStorage, SecondOpenWaitsForTheLockUntilTimeout) {
  testing::TempDir dir;
  testing::FakeHost host;
  Storage s = Make(host, DirConfig(dir) + "timeout: 200ms\n");
  ASSERT_EQ(s.start_error, "");
  auto first = s.Client();
  ASSERT_TRUE(first);
  std::string error;
  auto started = Clock::now();
  auto second = s.ext().GetClient(Kind::kExporter, kOwner, kClientName, &error);
  EXPECT_FALSE(second);
  EXPECT_GE(Clock::now() - started, std::chrono::milliseconds(200));
  EXPECT_THAT(error, HasSubstr("LOCK"));
  first.reset();  // closes the database
  EXPECT_TRUE(s.ext().GetClient(Kind::kExporter, kOwner, kClientName, &error)) << error;
}

// A writer killed with SIGKILL in the middle of a stream of Puts loses none of those it saw
// succeed: the child reports every finished Put through a pipe, the parent kills it mid-stream,
// then opens the database and finds every reported key with its value.
TEST(FileStorage, KilledWriterLosesNoFinishedPut) {
  testing::TempDir dir;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  constexpr uint64_t kMax = 20000;  // well below one memtable: the child needs no compaction
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    testing::FakeHost host;
    Storage s = Make(host, DirConfig(dir));
    if (!s.start_error.empty()) _exit(2);
    std::string error;
    auto client = s.ext().GetClient(Kind::kExporter, kOwner, kClientName, &error);
    if (!client) _exit(3);
    for (uint64_t i = 0; i < kMax; ++i) {
      if (!client->Put(Key(i), Value(i)).empty()) _exit(4);
      if (write(fds[1], &i, sizeof i) != sizeof i) _exit(5);
    }
    for (;;) pause();
  }
  close(fds[1]);
  uint64_t reported = 0;
  bool any = false;
  bool killed = false;
  auto deadline = Clock::now() + std::chrono::seconds(20);
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    if (poll(&p, 1, 100) < 0) break;
    if (p.revents & (POLLIN | POLLHUP)) {
      uint64_t n;
      ssize_t got = read(fds[0], &n, sizeof n);
      if (got == 0) break;  // the child is gone
      ASSERT_EQ(got, ssize_t(sizeof n));
      EXPECT_TRUE(!any || n == reported + 1);
      reported = n;
      any = true;
    }
    if (!killed && any && reported >= 2000) {
      ASSERT_EQ(kill(pid, SIGKILL), 0);
      killed = true;
    }
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      FAIL() << "the child reported " << reported << " puts before the deadline";
    }
  }
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child exit status " << status;
  ASSERT_LT(reported, kMax - 1) << "the child finished before it was killed";

  CapturedLog log;
  testing::FakeHost host;
  Storage s = Make(host, DirConfig(dir), log.logger);
  ASSERT_EQ(s.start_error, "");
  auto client = s.Client();
  std::vector<uint64_t> keys = CheckedKeys(*client);
  ASSERT_GE(keys.size(), reported + 1) << "a Put reported done was lost";
  for (uint64_t i = 0; i <= reported; ++i) ASSERT_EQ(keys[i], i);
  // At most the one Put in flight when the kill came is there beyond what was reported.
  EXPECT_LE(keys.size(), reported + 2);
  EXPECT_TRUE(log.Warnings().empty()) << log.All();
}

// Writes `n` records of `value_size` bytes into a fresh database in `dir` and closes it.
void WriteAndClose(const testing::TempDir& dir, uint64_t n, size_t value_size) {
  testing::FakeHost host;
  Storage s = Make(host, DirConfig(dir));
  ASSERT_EQ(s.start_error, "");
  auto client = s.Client();
  PutRange(*client, 0, n, value_size);
}

TEST(FileStorage, TruncatedLogTailKeepsWholeRecordsAndWarnsOnce) {
  testing::TempDir dir;
  WriteAndClose(dir, 100, 200);
  fs::path log_file = NewestLog(dir.path() / kDbName);
  ASSERT_FALSE(log_file.empty());
  fs::resize_file(log_file, fs::file_size(log_file) - 50);  // mid-way into the last record

  CapturedLog log;
  testing::FakeHost host;
  {
    Storage s = Make(host, DirConfig(dir), log.logger);
    ASSERT_EQ(s.start_error, "");
    auto client = s.Client();
    ASSERT_TRUE(client);
    std::vector<uint64_t> want(99);
    std::iota(want.begin(), want.end(), 0);
    EXPECT_EQ(CheckedKeys(*client, 200), want);
    ASSERT_EQ(client->Put(Key(500), Value(500, 200)), "");
  }
  auto warnings = log.Warnings();
  ASSERT_EQ(warnings.size(), 1u) << log.All();
  EXPECT_THAT(warnings[0], HasSubstr(log_file.filename().string()));
  EXPECT_THAT(warnings[0], HasSubstr("truncated"));
  EXPECT_THAT(warnings[0], HasSubstr(kDbName));

  // The damage was dealt with: the next start is quiet and has everything, new data included.
  CapturedLog again;
  Storage s = Make(host, DirConfig(dir), again.logger);
  auto client = s.Client();
  EXPECT_EQ(CheckedKeys(*client, 200).size(), 100u);
  EXPECT_TRUE(again.Warnings().empty()) << again.All();
}

TEST(FileStorage, GarbageAfterTheLogKeepsEveryRecordAndWarnsOnce) {
  testing::TempDir dir;
  WriteAndClose(dir, 100, 200);
  fs::path log_file = NewestLog(dir.path() / kDbName);
  {
    std::ofstream out(log_file, std::ios::binary | std::ios::app);
    for (int i = 0; i < 40; ++i) out << "\xde\xad\xbe\xef";
  }
  CapturedLog log;
  testing::FakeHost host;
  {
    Storage s = Make(host, DirConfig(dir), log.logger);
    ASSERT_EQ(s.start_error, "");
    auto client = s.Client();
    ASSERT_TRUE(client);
    EXPECT_EQ(CheckedKeys(*client, 200).size(), 100u);
    ASSERT_EQ(client->Put(Key(100), Value(100, 200)), "");
  }
  ASSERT_EQ(log.Warnings().size(), 1u) << log.All();
  EXPECT_THAT(log.Warnings()[0], HasSubstr("160 bytes after offset"));

  // What was written after the recovery is not stuck behind the garbage.
  CapturedLog again;
  Storage s = Make(host, DirConfig(dir), again.logger);
  auto client = s.Client();
  EXPECT_EQ(CheckedKeys(*client, 200).size(), 101u);
  EXPECT_TRUE(again.Warnings().empty()) << again.All();
}

TEST(FileStorage, FlippedBytesInTheLogLoseOnlyTheirBlockAndWarnOnce) {
  testing::TempDir dir;
  constexpr uint64_t kRecords = 400;  // ~1 KiB each: about 13 blocks of 32 KiB
  WriteAndClose(dir, kRecords, 1000);
  fs::path log_file = NewestLog(dir.path() / kDbName);
  std::string bytes = testing::ReadFile(log_file.string());
  ASSERT_GT(bytes.size(), 10u * 32768);
  size_t middle = bytes.size() / 2;
  for (size_t i = middle; i < middle + 16; ++i) bytes[i] = char(~uint8_t(bytes[i]));
  testing::WriteFile(log_file.string(), bytes);

  CapturedLog log;
  testing::FakeHost host;
  Storage s = Make(host, DirConfig(dir), log.logger);
  ASSERT_EQ(s.start_error, "");
  auto client = s.Client();
  ASSERT_TRUE(client);
  std::vector<uint64_t> keys = CheckedKeys(*client, 1000);  // every value kept is exact
  EXPECT_LT(keys.size(), kRecords) << "the damage should have cost something";
  EXPECT_GE(keys.size(), kRecords - 40) << "more than about one 32 KiB block was lost";
  // Records before and after the damaged block are all there.
  for (uint64_t i = 0; i < kRecords / 2 - 40; ++i) ASSERT_EQ(keys[i], i);
  for (uint64_t i = 0; i < kRecords / 2 - 40; ++i) {
    ASSERT_EQ(keys[keys.size() - 1 - i], kRecords - 1 - i);
  }
  auto warnings = log.Warnings();
  ASSERT_EQ(warnings.size(), 1u) << log.All();
  EXPECT_THAT(warnings[0], HasSubstr("dropping"));
}

TEST(FileStorage, UnreadableManifestIsRepairedKeepingTheData) {
  testing::TempDir dir;
  WriteAndClose(dir, 300, 100);
  fs::path db = dir.path() / kDbName;
  for (const auto& e : fs::directory_iterator(db)) {
    if (e.path().filename().string().starts_with("MANIFEST-")) {
      testing::WriteFile(e.path().string(), std::string(fs::file_size(e.path()), '\x5a'));
    }
  }
  CapturedLog log;
  testing::FakeHost host;
  Storage s = Make(host, DirConfig(dir), log.logger);
  auto client = s.Client();
  ASSERT_TRUE(client);
  EXPECT_EQ(CheckedKeys(*client, 100).size(), 300u);
  auto warnings = log.Warnings();
  ASSERT_EQ(warnings.size(), 1u) << log.All();
  EXPECT_THAT(warnings[0], HasSubstr("RepairDB"));
}

TEST(FileStorage, LostCurrentFileIsRepairedNotTakenForANewDatabase) {
  testing::TempDir dir;
  WriteAndClose(dir, 300, 100);
  {  // fold the log into a table first, so that the data lives where LevelDB would delete it
    testing::FakeHost host;
    Storage s = Make(host, DirConfig(dir) + "compaction: {on_start: true}\n");
    ASSERT_TRUE(s.Client());
  }
  ASSERT_TRUE(fs::remove(dir.path() / kDbName / "CURRENT"));
  CapturedLog log;
  testing::FakeHost host;
  Storage s = Make(host, DirConfig(dir), log.logger);
  auto client = s.Client();
  ASSERT_TRUE(client);
  EXPECT_EQ(CheckedKeys(*client, 100).size(), 300u);
  ASSERT_EQ(log.Warnings().size(), 1u) << log.All();
  EXPECT_THAT(log.Warnings()[0], HasSubstr("CURRENT file is missing"));
}

TEST(FileStorage, CompactionOnStartShrinksTheFiles) {
  testing::TempDir dir;
  {
    testing::FakeHost host;
    Storage s = Make(host, DirConfig(dir));
    auto client = s.Client();
    PutRange(*client, 0, 2000, 1000);
    for (uint64_t i = 0; i < 2000; ++i) {
      if (i % 100 != 0) ASSERT_EQ(client->Delete(Key(i)), "");
    }
  }
  fs::path db = dir.path() / kDbName;
  {  // without compaction, reopening keeps the deleted values on disk
    testing::FakeHost host;
    Storage s = Make(host, DirConfig(dir));
    ASSERT_TRUE(s.Client());
  }
  uint64_t before = DirBytes(db);
  ASSERT_GT(before, 1500u * 1000);

  CapturedLog log;
  testing::FakeHost host;
  Storage s = Make(host, DirConfig(dir) + "compaction: {on_start: true}\n", log.logger);
  auto client = s.Client();
  ASSERT_TRUE(client);
  uint64_t after = DirBytes(db);
  EXPECT_LT(after, before / 10) << "before " << before << ", after " << after;
  std::vector<uint64_t> want;
  for (uint64_t i = 0; i < 2000; i += 100) want.push_back(i);
  EXPECT_EQ(CheckedKeys(*client, 1000), want);
  EXPECT_THAT(log.All(), HasSubstr("compacted database"));
}

TEST(FileStorage, ReboundCompactionRunsOnceTheStoreHasDrained) {
  testing::TempDir dir;
  CapturedLog log;
  testing::FakeHost host;
  Storage s = Make(host,
                   DirConfig(dir) +
                       "compaction:\n  on_rebound: true\n  rebound_needed_threshold_mib: 2\n"
                       "  rebound_trigger_threshold_mib: 1\n  check_interval: 10ms\n",
                   log.logger);
  ASSERT_EQ(s.start_error, "");
  auto client = s.Client();
  fs::path db = dir.path() / kDbName;
  // Six values of 512 KiB: 3 MiB, past the "needed" threshold. Live data falls below the 1 MiB
  // trigger only when the fifth of them is deleted, so the compaction has one moment to happen.
  constexpr size_t kBig = 512 << 10;
  PutRange(*client, 0, 6, kBig);
  ASSERT_GT(DirBytes(db), 3u << 20);
  for (uint64_t i = 1; i < 5; ++i) ASSERT_EQ(client->Delete(Key(i)), "");
  auto checks = [&] {
    std::string all = log.All();
    size_t n = 0;
    for (size_t at = 0; (at = all.find("waiting for the live data", at)) != std::string::npos; ++at) {
      ++n;
    }
    return n;
  };
  ASSERT_TRUE(testing::WaitFor([&] { return checks() >= 2; }));
  EXPECT_EQ(log.All().find("on rebound"), std::string::npos)
      << "compacted while the live data was still above the trigger threshold";
  ASSERT_EQ(client->Delete(Key(5)), "");
  ASSERT_TRUE(testing::WaitFor(
      [&] { return log.All().find("(on rebound)") != std::string::npos; },
      std::chrono::seconds(20)))
      << log.All();
  EXPECT_LT(DirBytes(db), 1u << 20) << log.All();
  EXPECT_EQ(CheckedKeys(*client, kBig), std::vector<uint64_t>{0});
}

// Compaction rewrites a database and swaps it in with two renames; a crash leaves one of three
// states, and each opens as a whole database.
TEST(FileStorage, CompactionInterruptedByACrashIsFinishedOrUndone) {
  testing::TempDir dir;
  WriteAndClose(dir, 50, 100);
  fs::path db = dir.path() / kDbName;
  fs::path old_db = db.string() + ".compact-old";
  fs::path staged = db.string() + ".compact-new";
  auto open_and_count = [&] {
    CapturedLog log;
    testing::FakeHost host;
    Storage s = Make(host, DirConfig(dir), log.logger);
    auto client = s.Client();
    EXPECT_TRUE(log.Warnings().empty()) << log.All();
    return client ? CheckedKeys(*client, 100).size() : 0;
  };

  // Killed between the renames: the original waits at .compact-old.
  fs::rename(db, old_db);
  EXPECT_EQ(open_and_count(), 50u);
  EXPECT_FALSE(fs::exists(old_db));

  // Killed after the copy was staged, before the swap: the staged copy is dropped.
  fs::create_directory(staged);
  testing::WriteFile((staged / "CURRENT").string(), "garbage");
  EXPECT_EQ(open_and_count(), 50u);
  EXPECT_FALSE(fs::exists(staged));

  // Killed after the swap, before the original was removed: the original is garbage now.
  fs::create_directory(old_db);
  testing::WriteFile((old_db / "CURRENT").string(), "garbage");
  EXPECT_EQ(open_and_count(), 50u);
  EXPECT_FALSE(fs::exists(old_db));
}

TEST(FileStorage, CompactionAcrossFilesystemsCopiesTheCompactedDatabase) {
  // /dev/shm is a tmpfs on most Linux systems: another filesystem than the temp dir's.
  struct stat shm {}, tmp {};
  testing::TempDir dir;
  if (stat("/dev/shm", &shm) != 0 || stat(dir.path().c_str(), &tmp) != 0 ||
      shm.st_dev == tmp.st_dev) {
    GTEST_SKIP() << "no second filesystem at /dev/shm";
  }
  fs::path compaction = fs::path("/dev/shm") / ("otelite-compaction-" + std::to_string(getpid()));
  fs::create_directory(compaction);
  {
    testing::FakeHost host;
    Storage s = Make(host, DirConfig(dir));
    auto client = s.Client();
    PutRange(*client, 0, 1000, 1000);
    for (uint64_t i = 0; i < 1000; ++i) {
      if (i % 10 != 0) ASSERT_EQ(client->Delete(Key(i)), "");
    }
  }
  uint64_t before = DirBytes(dir.path() / kDbName);
  CapturedLog log;
  {
    testing::FakeHost host;
    Storage s = Make(host,
                     DirConfig(dir) + "compaction:\n  on_start: true\n  directory: " +
                         compaction.string() + "\n  max_transaction_size: 7\n",
                     log.logger);
    ASSERT_EQ(s.start_error, "");
    auto client = s.Client();
    ASSERT_TRUE(client);
    std::vector<uint64_t> want;
    for (uint64_t i = 0; i < 1000; i += 10) want.push_back(i);
    EXPECT_EQ(CheckedKeys(*client, 1000), want);
  }
  EXPECT_LT(DirBytes(dir.path() / kDbName), before / 5) << log.All();
  EXPECT_TRUE(fs::is_empty(compaction)) << "the temporary copy was left behind";
  EXPECT_TRUE(log.Lines("error").empty()) << log.All();
  fs::remove_all(compaction);
}

TEST(FileStorage, ForEachCallbackMayUseTheSameClient) {
  testing::TempDir dir;
  testing::FakeHost host;
  Storage s = Make(host, DirConfig(dir));
  auto client = s.Client();
  PutRange(*client, 0, 20);
  size_t seen = 0;
  ASSERT_EQ(client->ForEach([&](std::string_view k, std::string_view) {
    ++seen;
    std::optional<std::string> v;
    EXPECT_EQ(client->Get(k, &v), "");
    EXPECT_TRUE(v.has_value());
    EXPECT_EQ(client->Delete(k), "");
    return true;
  }),
            "");
  EXPECT_EQ(seen, 20u);
  EXPECT_TRUE(Keys(*client).empty());
}

TEST(FileStorage, MissingDirectoryFailsStartNamingItAndTheKey) {
  testing::TempDir dir;
  std::string missing = (dir.path() / "nope").string();
  testing::FakeHost host;
  Storage s = Make(host, "directory: " + missing + "\n");
  EXPECT_THAT(s.start_error, HasSubstr("extensions.file_storage/x.directory"));
  EXPECT_THAT(s.start_error, HasSubstr(missing));
  EXPECT_THAT(s.start_error, HasSubstr("does not exist"));
  EXPECT_THAT(s.start_error, HasSubstr("create_directory"));
  std::string error;
  EXPECT_FALSE(s.ext().GetClient(Kind::kExporter, kOwner, kClientName, &error));
  EXPECT_THAT(error, HasSubstr("not started"));

  testing::WriteFile(dir.file("plain"), "x");
  Storage f = Make(host, "directory: " + dir.file("plain") + "\n");
  EXPECT_THAT(f.start_error, HasSubstr("is not a directory"));
}

TEST(FileStorage, UnwritableDirectoryFailsStart) {
  testing::TempDir dir;
  fs::path ro = dir.path() / "ro";
  fs::create_directory(ro);
  fs::permissions(ro, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::others_read |
                          fs::perms::others_exec);
  fs::permissions(dir.path(), fs::perms::others_exec, fs::perm_options::add);
  // root writes anywhere: check as an unprivileged user in a child process.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    if (geteuid() == 0 && setresuid(65534, 65534, 65534) != 0) _exit(2);
    testing::FakeHost host;
    Storage s = Make(host, "directory: " + ro.string() + "\n");
    (void)!write(fds[1], s.start_error.data(), s.start_error.size());
    _exit(0);
  }
  close(fds[1]);
  std::string error;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) error.append(buf, size_t(n));
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_THAT(error, HasSubstr("extensions.file_storage/x.directory"));
  EXPECT_THAT(error, HasSubstr(ro.string()));
  EXPECT_THAT(error, HasSubstr("not writable"));
}

TEST(FileStorage, CreateDirectoryMakesItWithDirectoryPermissions) {
  testing::TempDir dir;
  mode_t old_umask = umask(022);
  fs::path nested = dir.path() / "a" / "b";
  testing::FakeHost host;
  Storage s = Make(host, "directory: " + nested.string() +
                             "\ncreate_directory: true\ndirectory_permissions: \"0710\"\n");
  umask(old_umask);
  ASSERT_EQ(s.start_error, "");
  struct stat st {};
  ASSERT_EQ(stat(nested.c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0710u);
  ASSERT_EQ(stat((dir.path() / "a").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0710u);
  auto client = s.Client();
  ASSERT_TRUE(client);
  EXPECT_EQ(client->Put("k", "v"), "");
}

TEST(FileStorage, CleanupOnStartRemovesOtelcolTempFiles) {
  testing::TempDir dir;
  testing::TempDir compaction;
  testing::WriteFile(compaction.file("tempdb123"), "left by a killed compaction");
  testing::WriteFile(compaction.file("keep.me"), "x");
  testing::FakeHost host;
  Storage s = Make(host, DirConfig(dir) + "compaction:\n  directory: " +
                             compaction.path().string() + "\n  cleanup_on_start: true\n");
  ASSERT_EQ(s.start_error, "");
  EXPECT_FALSE(fs::exists(compaction.file("tempdb123")));
  EXPECT_TRUE(fs::exists(compaction.file("keep.me")));
}

TEST(FileStorage, DefaultsAreOtelcols) {
  std::map<std::string, std::string> defaults;
  for (const auto& k : Factory().Describe()) defaults[k.key] = k.default_value;
  EXPECT_EQ(defaults["directory"], "/var/lib/otelcol/file_storage");
  EXPECT_EQ(defaults["timeout"], "1s");
  EXPECT_EQ(defaults["fsync"], "false");
  EXPECT_EQ(defaults["create_directory"], "false");
  EXPECT_EQ(defaults["directory_permissions"], "0750");
  EXPECT_EQ(defaults["compaction.on_start"], "false");
  EXPECT_EQ(defaults["compaction.on_rebound"], "false");
  EXPECT_EQ(defaults["compaction.rebound_needed_threshold_mib"], "100");
  EXPECT_EQ(defaults["compaction.rebound_trigger_threshold_mib"], "10");
  EXPECT_EQ(defaults["compaction.max_transaction_size"], "65536");
  EXPECT_EQ(defaults["compaction.check_interval"], "5s");
  EXPECT_EQ(defaults["compaction.cleanup_on_start"], "false");
  EXPECT_TRUE(defaults.count("compaction.directory"));
}

TEST(FileStorage, ConfigErrorsNameLineAndPath) {
  config::Errors errors;
  ParseConfig(
      "directory: /d\n"
      "create_directory: true\n"
      "directory_permissions: \"0989\"\n"
      "compaction:\n"
      "  on_rebound: true\n"
      "  check_interval: 0s\n"
      "  max_transaction_size: -1\n"
      "  bogus: 1\n",
      errors);
  std::vector<std::string> all;
  for (const auto& e : errors.all()) all.push_back(e.str());
  EXPECT_THAT(all, ::testing::Contains(::testing::AllOf(
                       HasSubstr("storage.yaml:3: extensions.file_storage/x.directory_permissions"),
                       HasSubstr("octal"))));
  EXPECT_THAT(all, ::testing::Contains(HasSubstr(
                       "storage.yaml:6: extensions.file_storage/x.compaction.check_interval")));
  EXPECT_THAT(all, ::testing::Contains(HasSubstr(
                       "storage.yaml:7: extensions.file_storage/x.compaction.max_transaction_size")));
  EXPECT_THAT(all, ::testing::Contains(::testing::AllOf(
                       HasSubstr("storage.yaml:8: extensions.file_storage/x.compaction.bogus"),
                       HasSubstr("on_rebound"))));
  EXPECT_EQ(all.size(), 4u) << ::testing::PrintToString(all);

  config::Errors fine;
  ParseConfig("directory_permissions: \"0989\"\n", fine);
  EXPECT_FALSE(fine.HasErrors()) << "as otelcol, permissions are only checked with create_directory";
}

TEST(LogFraming, FindsTornAndForeignTails) {
  using extensions::file_storage::CheckLogFraming;
  auto record = [](uint8_t type, size_t length) {
    std::string r(7 + length, 'p');
    r[0] = r[1] = r[2] = r[3] = 'c';
    r[4] = char(length & 0xFF);
    r[5] = char(length >> 8);
    r[6] = char(type);
    return r;
  };
  EXPECT_EQ(CheckLogFraming(""), "");
  EXPECT_EQ(CheckLogFraming(record(1, 10) + record(1, 0)), "");
  std::string two = record(1, 10) + record(1, 20);
  EXPECT_THAT(CheckLogFraming(two.substr(0, two.size() - 3)), HasSubstr("truncated record"));
  EXPECT_THAT(CheckLogFraming(two + "abc"), HasSubstr("truncated record header"));
  EXPECT_THAT(CheckLogFraming(two + record(9, 1)), HasSubstr("unknown record type 9"));
  EXPECT_THAT(CheckLogFraming(two + record(2, 5)), HasSubstr("incomplete"));
  EXPECT_THAT(CheckLogFraming(two + std::string(20, '\0')), HasSubstr("zero bytes"));
  // A record spanning two blocks: first fills block 1, last continues in block 2.
  std::string span = record(2, 32768 - 7) + record(4, 100);
  EXPECT_EQ(CheckLogFraming(span), "");
  EXPECT_THAT(CheckLogFraming(span.substr(0, 32768)), HasSubstr("incomplete"));
  // Fewer than 7 bytes left in a block are zero padding.
  std::string padded = record(1, 32768 - 7 - 3) + std::string(3, '\0') + record(1, 4);
  EXPECT_EQ(CheckLogFraming(padded), "");
  EXPECT_THAT(CheckLogFraming(padded.substr(0, 32768 - 1)), ::testing::IsEmpty())
      << "a tail inside the padding lost nothing";
}

}  // namespace
}  // namespace otelite

#include "exporters/file/rotating_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ctime>
#include <filesystem>
#include <regex>

#include "../../test_util.h"

namespace otelite::exporters::file {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono;
using otelite::testing::ReadFile;
using otelite::testing::TempDir;
using otelite::testing::WriteFile;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

system_clock::time_point At(int y, unsigned mo, unsigned d, int h, int mi, int s, int ms) {
  return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s} +
         milliseconds{ms};
}

std::string Name(const std::string& path) { return fs::path(path).filename().string(); }

// Sets TZ for a scope (and restores it), so that local-time formatting is deterministic.
class ScopedTz {
 public:
  explicit ScopedTz(const char* tz) {
    if (const char* old = std::getenv("TZ")) old_ = old;
    ::setenv("TZ", tz, 1);
    ::tzset();
  }
  ~ScopedTz() {
    if (old_) ::setenv("TZ", old_->c_str(), 1);
    else ::unsetenv("TZ");
    ::tzset();
  }

 private:
  std::optional<std::string> old_;
};

TEST(RotatingFileBackupName, FormatUtc) {
  auto t = At(2024, 3, 5, 7, 8, 9, 123);
  EXPECT_EQ(RotatingFile::BackupName("/var/log/otel/data.json", t, false),
            "/var/log/otel/data-2024-03-05T07-08-09.123.json");
  EXPECT_EQ(RotatingFile::BackupName("out.jsonl", t, false), "out-2024-03-05T07-08-09.123.jsonl");
  EXPECT_EQ(RotatingFile::BackupName("/tmp/noext", t, false), "/tmp/noext-2024-03-05T07-08-09.123");
  EXPECT_EQ(RotatingFile::BackupName("/tmp/a.b.pb", At(2024, 12, 31, 23, 59, 59, 7), false),
            "/tmp/a.b-2024-12-31T23-59-59.007.pb");
  EXPECT_EQ(RotatingFile::BackupName("/tmp/x.json", At(2030, 1, 1, 0, 0, 0, 0), false),
            "/tmp/x-2030-01-01T00-00-00.000.json");
  // Sub-millisecond parts are cut, not rounded.
  EXPECT_EQ(RotatingFile::BackupName("x.json", At(2024, 3, 5, 7, 8, 9, 999) + microseconds(999),
                                     false),
            "x-2024-03-05T07-08-09.999.json");
}

TEST(RotatingFileBackupName, FormatLocaltime) {
  ScopedTz tz("EST5");  // UTC-5, no DST: needs no tz database
  auto t = At(2024, 3, 5, 2, 8, 9, 42);
  EXPECT_EQ(RotatingFile::BackupName("/d/data.json", t, true),
            "/d/data-2024-03-04T21-08-09.042.json");
  EXPECT_EQ(RotatingFile::BackupName("/d/data.json", t, false),
            "/d/data-2024-03-05T02-08-09.042.json");
}

TEST(RotatingFile, TruncatesOnOpenByDefault) {
  TempDir dir;
  std::string path = dir.file("out.json");
  WriteFile(path, "old content\n");
  RotatingFile f({.path = path});
  ASSERT_EQ(f.Open(), "");
  ASSERT_EQ(f.Write("new\n"), "");
  f.Close();
  EXPECT_EQ(ReadFile(path), "new\n");
}

TEST(RotatingFile, AppendsWhenAsked) {
  TempDir dir;
  std::string path = dir.file("out.json");
  WriteFile(path, "old\n");
  RotatingFile f({.path = path, .append = true});
  ASSERT_EQ(f.Open(), "");
  ASSERT_EQ(f.Write("new\n"), "");
  f.Close();
  EXPECT_EQ(ReadFile(path), "old\nnew\n");
}

TEST(RotatingFile, AlwaysAppendsWithRotation) {
  TempDir dir;
  std::string path = dir.file("out.json");
  WriteFile(path, "old\n");
  RotatingFile f({.path = path, .max_bytes = 1000});
  ASSERT_EQ(f.Open(), "");
  ASSERT_EQ(f.Write("new\n"), "");
  f.Close();
  EXPECT_EQ(ReadFile(path), "old\nnew\n");
  EXPECT_THAT(RotatingFile::ListBackups(path), IsEmpty());
}

TEST(RotatingFile, ExistingSizeCountsTowardsRotation) {
  TempDir dir;
  std::string path = dir.file("out.json");
  WriteFile(path, std::string(90, 'o'));
  RotatingFile f({.path = path, .max_bytes = 100});
  ASSERT_EQ(f.Open(), "");
  ASSERT_EQ(f.Write(std::string(20, 'n')), "");  // 90 + 20 > 100: rotate first
  f.Close();
  auto backups = RotatingFile::ListBackups(path);
  ASSERT_THAT(backups, SizeIs(1));
  EXPECT_EQ(ReadFile(backups[0]), std::string(90, 'o'));
  EXPECT_EQ(ReadFile(path), std::string(20, 'n'));
}

TEST(RotatingFile, CreatesParentDirectories) {
  TempDir dir;
  std::string path = (dir.path() / "a" / "b" / "out.json").string();
  RotatingFile f({.path = path});
  ASSERT_EQ(f.Open(), "");
  ASSERT_EQ(f.Write("x"), "");
  f.Close();
  EXPECT_EQ(ReadFile(path), "x");
}

TEST(RotatingFile, OpenFailure) {
  TempDir dir;
  WriteFile(dir.file("plainfile"), "");
  RotatingFile f({.path = dir.file("plainfile") + "/sub/out.json"});
  std::string err = f.Open();
  EXPECT_THAT(err, ::testing::StartsWith("cannot open "));
  EXPECT_EQ(f.Write("x"), "file is closed");
}

TEST(RotatingFile, WriteAfterCloseFails) {
  TempDir dir;
  RotatingFile f({.path = dir.file("x.json")});
  ASSERT_EQ(f.Open(), "");
  f.Close();
  EXPECT_EQ(f.Write("x"), "file is closed");
  f.Close();  // idempotent
}

TEST(RotatingFile, WrittenDataIsVisibleAtOnce) {
  TempDir dir;
  std::string path = dir.file("x.json");
  RotatingFile f({.path = path});
  ASSERT_EQ(f.Open(), "");
  ASSERT_EQ(f.Write("unbuffered\n"), "");
  EXPECT_EQ(ReadFile(path), "unbuffered\n");
  EXPECT_EQ(f.Sync(), "");
}

TEST(RotatingFile, WriteErrorIsReportedForTheRecordThatHitIt) {
  RotatingFile f({.path = "/dev/full", .append = true});
  ASSERT_EQ(f.Open(), "");
  EXPECT_THAT(f.Write("lost\n"), ::testing::HasSubstr("No space left on device"));
}

TEST(RotatingFile, ExactFitDoesNotRotate) {
  TempDir dir;
  std::string path = dir.file("x.json");
  RotatingFile f({.path = path, .max_bytes = 10});
  ASSERT_EQ(f.Open(), "");
  ASSERT_EQ(f.Write("12345"), "");
  ASSERT_EQ(f.Write("67890"), "");
  EXPECT_THAT(RotatingFile::ListBackups(path), IsEmpty());
  ASSERT_EQ(f.Write("x"), "");
  f.Close();
  auto backups = RotatingFile::ListBackups(path);
  ASSERT_THAT(backups, SizeIs(1));
  EXPECT_EQ(ReadFile(backups[0]), "1234567890");
  EXPECT_EQ(ReadFile(path), "x");
}

TEST(RotatingFile, OversizedRecordIsWrittenWholeIntoItsOwnFile) {
  TempDir dir;
  std::string path = dir.file("x.json");
  RotatingFile f({.path = path, .max_bytes = 10});
  ASSERT_EQ(f.Open(), "");
  ASSERT_EQ(f.Write("abc"), "");
  std::string big(25, 'B');
  ASSERT_EQ(f.Write(big), "");
  ASSERT_EQ(f.Write("def"), "");
  f.Close();
  auto backups = RotatingFile::ListBackups(path);
  ASSERT_THAT(backups, SizeIs(2));
  EXPECT_EQ(ReadFile(backups[0]), "abc");
  EXPECT_EQ(ReadFile(backups[1]), big);
  EXPECT_EQ(ReadFile(path), "def");
}

TEST(RotatingFile, RecordsAreNeverSplitAndKeepTheirOrder) {
  TempDir dir;
  std::string path = dir.file("records.jsonl");
  constexpr uint64_t kMax = 200;
  RotatingFile f({.path = path, .max_bytes = kMax});
  ASSERT_EQ(f.Open(), "");
  std::vector<std::string> records;
  std::string all;
  for (int i = 0; i < 120; ++i) {
    std::string r = "record-" + std::to_string(i) + "-" + std::string(size_t(i * 7 % 61), 'x') + "\n";
    records.push_back(r);
    all += r;
    ASSERT_EQ(f.Write(r), "");
  }
  f.Close();
  std::vector<std::string> files = RotatingFile::ListBackups(path);
  ASSERT_GT(files.size(), 10u);
  files.push_back(path);
  std::string joined;
  for (const auto& file : files) {
    std::string content = ReadFile(file);
    ASSERT_FALSE(content.empty()) << file;
    EXPECT_LE(content.size(), kMax) << file;
    EXPECT_EQ(content.back(), '\n') << "a record was split at the end of " << file;
    EXPECT_EQ(content.rfind("record-", 0), 0u) << "a record was split at the start of " << file;
    joined += content;
  }
  // Oldest backup first, current file last: the records in the order written.
  EXPECT_EQ(joined, all);
}

TEST(RotatingFile, BackupNamesFollowTheFormat) {
  TempDir dir;
  std::string path = dir.file("data.json");
  auto before = system_clock::now();
  RotatingFile f({.path = path, .max_bytes = 4});
  ASSERT_EQ(f.Open(), "");
  ASSERT_EQ(f.Write("aaaa"), "");
  ASSERT_EQ(f.Write("bbbb"), "");
  f.Close();
  auto after = system_clock::now();
  auto backups = RotatingFile::ListBackups(path);
  ASSERT_THAT(backups, SizeIs(1));
  EXPECT_EQ(fs::path(backups[0]).parent_path(), dir.path());
  std::string name = Name(backups[0]);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(
      name, m, std::regex(R"(data-(\d{4})-(\d\d)-(\d\d)T(\d\d)-(\d\d)-(\d\d)\.(\d{3})\.json)")))
      << name;
  // The name is the rotation time, in UTC.
  EXPECT_GE(name, Name(RotatingFile::BackupName(path, before - milliseconds(1), false)));
  EXPECT_LE(name, Name(RotatingFile::BackupName(path, after + milliseconds(5), false)));
}

TEST(RotatingFile, ListBackupsIgnoresOtherFilesAndSortsOldestFirst) {
  TempDir dir;
  std::string path = dir.file("data.json");
  for (const char* other :
       {"data.json.bak", "data-notatimestampatall.json", "other-2020-01-01T00-00-00.000.json",
        "data-2020-01-01T00-00-00.000.txt", "data-2020-13-45T99-99-99.000.json",
        "data-2020-01-01T00-00-00.json"}) {
    WriteFile(dir.file(other), "x");
  }
  std::string newer = RotatingFile::BackupName(path, At(2021, 6, 1, 0, 0, 0, 0), false);
  std::string older = RotatingFile::BackupName(path, At(2020, 6, 1, 0, 0, 0, 0), false);
  WriteFile(newer, "n");
  WriteFile(older, "o");
  EXPECT_THAT(RotatingFile::ListBackups(path), ElementsAre(older, newer));
}

TEST(RotatingFile, MaxBackupsKeepsTheNewest) {
  TempDir dir;
  std::string path = dir.file("data.json");
  // Five old-looking backups from earlier runs.
  std::vector<std::string> fake;
  for (int i = 1; i <= 5; ++i) {
    fake.push_back(RotatingFile::BackupName(path, At(2020, 1, 1, 0, 0, i, 0), false));
    WriteFile(fake.back(), "fake" + std::to_string(i));
  }
  RotatingFile f({.path = path, .max_bytes = 4, .max_backups = 3});
  ASSERT_EQ(f.Open(), "");
  ASSERT_EQ(f.Write("1111"), "");
  ASSERT_EQ(f.Write("2222"), "");  // rotation: 6 backups, the 3 oldest go
  auto backups = RotatingFile::ListBackups(path);
  ASSERT_THAT(backups, SizeIs(3));
  EXPECT_EQ(backups[0], fake[3]);
  EXPECT_EQ(backups[1], fake[4]);
  EXPECT_EQ(ReadFile(backups[2]), "1111");
  EXPECT_EQ(ReadFile(path), "2222");
}

TEST(RotatingFile, MaxBackupsNeverRemovesTheBackupJustMade) {
  TempDir dir;
  std::string path = dir.file("data.json");
  std::string ahead = RotatingFile::BackupName(path, system_clock::now() + minutes(1), false);
  WriteFile(ahead, "stale");
  RotatingFile f({.path = path, .max_bytes = 4, .max_backups = 1});
  ASSERT_EQ(f.Open(), "");
  ASSERT_EQ(f.Write("1111"), "");
  ASSERT_EQ(f.Write("2222"), "");  // rotates "1111" out
  f.Close();
  auto backups = RotatingFile::ListBackups(path);
  ASSERT_THAT(backups, SizeIs(1));
  EXPECT_EQ(ReadFile(backups[0]), "1111") << "the newest backup was removed";
}

TEST(RotatingFile, MaxBackupsWithSeveralRotationsPerMillisecond) {
  TempDir dir;
  std::string path = dir.file("data.json");
  RotatingFile f({.path = path, .max_bytes = 4, .max_backups = 3});
  ASSERT_EQ(f.Open(), "");
  constexpr int kRecords = 300;
  for (int i = 0; i < kRecords; ++i) {
    char record[8];
    std::snprintf(record, sizeof record, "%04d", i);
    ASSERT_EQ(f.Write(record), "");
  }
  f.Close();
  auto backups = RotatingFile::ListBackups(path);
  ASSERT_THAT(backups, SizeIs(3));
  std::vector<std::string> contents;
  for (const auto& b : backups) contents.push_back(ReadFile(b));
  EXPECT_THAT(contents, ElementsAre("0296", "0297", "0298"));
  EXPECT_EQ(ReadFile(path), "0299");
}

TEST(RotatingFile, MaxBackupsZeroKeepsAll) {
  TempDir dir;
  std::string path = dir.file("data.json");
  RotatingFile f({.path = path, .max_bytes = 1, .max_backups = 0});
  ASSERT_EQ(f.Open(), "");
  for (int i = 0; i < 12; ++i) ASSERT_EQ(f.Write("r"), "");
  f.Close();
  EXPECT_THAT(RotatingFile::ListBackups(path), SizeIs(11));
}

TEST(RotatingFile, MaxDaysRemovesBackupsOlderByTheirName) {
  TempDir dir;
  std::string path = dir.file("data.json");
  auto now = system_clock::now();
  std::string ancient = RotatingFile::BackupName(path, now - hours(24 * 30), false);
  std::string week_and_a_bit = RotatingFile::BackupName(path, now - hours(24 * 7 + 1), false);
  std::string recent = RotatingFile::BackupName(path, now - hours(24 * 6), false);
  for (const auto& b : {ancient, week_and_a_bit, recent}) WriteFile(b, "old");
  // A recent mtime must not save a backup whose name is old: only the name counts.
  RotatingFile f({.path = path, .max_bytes = 4, .max_days = 7});
  ASSERT_EQ(f.Open(), "");
  ASSERT_EQ(f.Write("1111"), "");
  ASSERT_EQ(f.Write("2222"), "");
  f.Close();
  auto backups = RotatingFile::ListBackups(path);
  ASSERT_THAT(backups, SizeIs(2));
  EXPECT_EQ(backups[0], recent);
  EXPECT_EQ(ReadFile(backups[1]), "1111");
  EXPECT_FALSE(fs::exists(ancient));
  EXPECT_FALSE(fs::exists(week_and_a_bit));
}

TEST(RotatingFile, MaxDaysAndMaxBackupsTogether) {
  TempDir dir;
  std::string path = dir.file("data.json");
  auto now = system_clock::now();
  std::string ancient = RotatingFile::BackupName(path, now - hours(24 * 30), false);
  std::string r1 = RotatingFile::BackupName(path, now - hours(3), false);
  std::string r2 = RotatingFile::BackupName(path, now - hours(2), false);
  for (const auto& b : {ancient, r1, r2}) WriteFile(b, "old");
  RotatingFile f({.path = path, .max_bytes = 4, .max_backups = 2, .max_days = 1});
  ASSERT_EQ(f.Open(), "");
  ASSERT_EQ(f.Write("1111"), "");
  ASSERT_EQ(f.Write("2222"), "");
  f.Close();
  auto backups = RotatingFile::ListBackups(path);
  ASSERT_THAT(backups, SizeIs(2));
  EXPECT_EQ(backups[0], r2);
  EXPECT_EQ(ReadFile(backups[1]), "1111");
}

}  // namespace
}  // namespace otelite::exporters::file

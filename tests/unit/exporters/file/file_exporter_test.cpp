// The file exporter driven as the service drives it: found in the registry, configured from YAML,
// created, started with a host, pushed to, shut down; then the file is read back.
#include <google/protobuf/util/message_differencer.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "components/registry.h"
#include "config/loader.h"
#include "exporters/file/rotating_file.h"
#include "pdata/compression.h"
#include "pdata/otlp_json.h"
#include "../../test_util.h"

namespace otelite {
namespace {

using google::protobuf::util::MessageDifferencer;
using otelite::testing::FakeHost;
using otelite::testing::MakeBatch;
using otelite::testing::MakeGaugeMetrics;
using otelite::testing::MakeLogs;
using otelite::testing::MakeTraces;
using otelite::testing::ReadFile;
using otelite::testing::TempDir;
using otelite::testing::WaitFor;
using otelite::testing::WriteFile;
using ::testing::IsEmpty;
using ::testing::SizeIs;

const ExporterFactory& FileFactory() {
  auto found = BuiltinRegistry().Find(Kind::kExporter, "file");
  EXPECT_NE(found.factory, nullptr);
  EXPECT_FALSE(found.deprecated_alias);
  EXPECT_EQ(found.factory->kind(), Kind::kExporter);
  return *static_cast<const ExporterFactory*>(found.factory);
}

// A created (not yet started) file exporter from the YAML of its settings.
struct Made {
  std::unique_ptr<ComponentConfig> config;
  std::unique_ptr<Exporter> exporter;
};

Made Make(const std::string& yaml) {
  config::Errors errors;
  config::ConfNode node = config::ParseYaml(yaml, "test.yaml", errors);
  const ExporterFactory& factory = FileFactory();
  Made m;
  m.config = factory.ParseConfig(node, config::Ctx{errors, "exporters.file"});
  for (const auto& e : errors.all()) ADD_FAILURE() << e.str();
  CreateSettings settings;
  settings.id = ComponentId("file");
  m.exporter = factory.Create(settings, *m.config, SignalSet::All());
  return m;
}

// Splits length-prefixed records (4-byte big-endian length, then the bytes).
std::vector<std::string> SplitFrames(const std::string& data) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < data.size()) {
    EXPECT_GE(data.size() - pos, 4u) << "truncated length prefix";
    if (data.size() - pos < 4) break;
    uint32_t n = (uint32_t(uint8_t(data[pos])) << 24) | (uint32_t(uint8_t(data[pos + 1])) << 16) |
                 (uint32_t(uint8_t(data[pos + 2])) << 8) | uint32_t(uint8_t(data[pos + 3]));
    pos += 4;
    EXPECT_LE(n, data.size() - pos) << "truncated record";
    if (n > data.size() - pos) break;
    out.push_back(data.substr(pos, n));
    pos += n;
  }
  return out;
}

std::vector<std::string> SplitLines(const std::string& data) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    EXPECT_NE(nl, std::string::npos) << "last line has no newline";
    if (nl == std::string::npos) break;
    out.push_back(data.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

// The three requests every format test writes, one per signal.
struct Requests {
  TracesRequest traces = MakeTraces("span", 3);
  MetricsRequest metrics = MakeGaugeMetrics("gauge", 2.5);
  LogsRequest logs = MakeLogs("line", 2);
};

void PushAll(Exporter& exporter, const Requests& r) {
  ASSERT_TRUE(exporter.Push(*MakeBatch(Signal::kTraces, r.traces)).ok());
  ASSERT_TRUE(exporter.Push(*MakeBatch(Signal::kMetrics, r.metrics)).ok());
  // Logs come off the wire: the payload keeps its protobuf bytes.
  auto logs = Payload::Parse(Signal::kLogs, r.logs.SerializeAsString());
  ASSERT_NE(logs, nullptr);
  ASSERT_TRUE(exporter.Push(*logs).ok());
}

// Decodes the three records (JSON or protobuf) and compares them with what was pushed.
void ExpectSame(const Requests& r, const std::vector<std::string>& records, bool json) {
  ASSERT_THAT(records, SizeIs(3));
  TracesRequest traces;
  MetricsRequest metrics;
  LogsRequest logs;
  if (json) {
    ASSERT_EQ(DecodeOtlpJson(records[0], &traces), "") << records[0];
    ASSERT_EQ(DecodeOtlpJson(records[1], &metrics), "") << records[1];
    ASSERT_EQ(DecodeOtlpJson(records[2], &logs), "") << records[2];
  } else {
    ASSERT_TRUE(traces.ParseFromString(records[0]));
    ASSERT_TRUE(metrics.ParseFromString(records[1]));
    ASSERT_TRUE(logs.ParseFromString(records[2]));
  }
  EXPECT_TRUE(MessageDifferencer::Equals(traces, r.traces)) << traces.DebugString();
  EXPECT_TRUE(MessageDifferencer::Equals(metrics, r.metrics)) << metrics.DebugString();
  EXPECT_TRUE(MessageDifferencer::Equals(logs, r.logs)) << logs.DebugString();
}

TEST(FileExporter, FactoryDescribesItself) {
  const ExporterFactory& f = FileFactory();
  EXPECT_EQ(f.type(), "file");
  EXPECT_TRUE(f.signals().Has(Signal::kTraces));
  EXPECT_TRUE(f.signals().Has(Signal::kMetrics));
  EXPECT_TRUE(f.signals().Has(Signal::kLogs));
  std::map<std::string, std::string> docs;
  for (const auto& d : f.Describe()) docs[d.key] = d.default_value;
  EXPECT_EQ(docs["format"], "json");
  EXPECT_EQ(docs["flush_interval"], "1s");
  EXPECT_EQ(docs["append"], "false");
  EXPECT_EQ(docs["rotation"], "(off)");
  EXPECT_EQ(docs["rotation.max_megabytes"], "100");
  EXPECT_EQ(docs["rotation.max_backups"], "100");
}

TEST(FileExporter, JsonIsOneRequestPerLine) {
  TempDir dir;
  std::string path = dir.file("out.jsonl");
  Made m = Make("path: " + path + "\n");
  FakeHost host;
  ASSERT_EQ(m.exporter->Start(host), "");
  Requests r;
  PushAll(*m.exporter, r);
  m.exporter->Shutdown(Clock::now() + std::chrono::seconds(5));
  std::string data = ReadFile(path);
  ExpectSame(r, SplitLines(data), /*json=*/true);
  // OTLP/JSON, not protobuf's JSON mapping: hex ids and camelCase keys.
  EXPECT_NE(data.find("\"resourceSpans\""), std::string::npos);
  EXPECT_NE(data.find("\"traceId\":\"a0b1c2d3e4f5"), std::string::npos) << data.substr(0, 400);
  EXPECT_THAT(host.fatal_errors, IsEmpty());
}

TEST(FileExporter, ProtoIsLengthPrefixed) {
  TempDir dir;
  std::string path = dir.file("out.pb");
  Made m = Make("path: " + path + "\nformat: proto\n");
  FakeHost host;
  ASSERT_EQ(m.exporter->Start(host), "");
  Requests r;
  PushAll(*m.exporter, r);
  m.exporter->Shutdown(Clock::now() + std::chrono::seconds(5));
  std::string data = ReadFile(path);
  std::vector<std::string> frames = SplitFrames(data);
  ExpectSame(r, frames, /*json=*/false);
  // The first 4 bytes are the big-endian length of the first request.
  size_t n0 = r.traces.ByteSizeLong();
  ASSERT_GT(data.size(), 4u);
  EXPECT_EQ(uint8_t(data[0]), (n0 >> 24) & 0xFF);
  EXPECT_EQ(uint8_t(data[2]), (n0 >> 8) & 0xFF);
  EXPECT_EQ(uint8_t(data[3]), n0 & 0xFF);
}

void ExpectZstdFrames(const std::string& format) {
  TempDir dir;
  std::string path = dir.file("out.zst");
  Made m = Make("path: " + path + "\nformat: " + format + "\ncompression: zstd\n");
  FakeHost host;
  ASSERT_EQ(m.exporter->Start(host), "");
  Requests r;
  PushAll(*m.exporter, r);
  m.exporter->Shutdown(Clock::now() + std::chrono::seconds(5));
  std::vector<std::string> records;
  for (const auto& frame : SplitFrames(ReadFile(path))) {
    std::string plain;
    ASSERT_EQ(ZstdDecompressLimited(frame, 64 << 20, &plain), DecompressResult::kOk);
    records.push_back(plain);
  }
  ExpectSame(r, records, format == "json");
}

TEST(FileExporter, ZstdJsonIsLengthPrefixedFrames) { ExpectZstdFrames("json"); }
TEST(FileExporter, ZstdProtoIsLengthPrefixedFrames) { ExpectZstdFrames("proto"); }

TEST(FileExporter, TruncatesByDefaultAndAppendsWhenAsked) {
  TempDir dir;
  std::string path = dir.file("out.jsonl");
  WriteFile(path, "previous run\n");
  {
    Made m = Make("path: " + path + "\n");
    FakeHost host;
    ASSERT_EQ(m.exporter->Start(host), "");
    ASSERT_TRUE(m.exporter->Push(*MakeBatch(Signal::kLogs, MakeLogs("a"))).ok());
    m.exporter->Shutdown(Clock::now() + std::chrono::seconds(5));
  }
  EXPECT_THAT(SplitLines(ReadFile(path)), SizeIs(1));
  {
    Made m = Make("path: " + path + "\nappend: true\n");
    FakeHost host;
    ASSERT_EQ(m.exporter->Start(host), "");
    ASSERT_TRUE(m.exporter->Push(*MakeBatch(Signal::kLogs, MakeLogs("b"))).ok());
    m.exporter->Shutdown(Clock::now() + std::chrono::seconds(5));
  }
  EXPECT_THAT(SplitLines(ReadFile(path)), SizeIs(2));
}

TEST(FileExporter, FlushIntervalZeroWritesThrough) {
  TempDir dir;
  std::string path = dir.file("out.jsonl");
  Made m = Make("path: " + path + "\nflush_interval: 0s\n");
  FakeHost host;
  ASSERT_EQ(m.exporter->Start(host), "");
  ASSERT_TRUE(m.exporter->Push(*MakeBatch(Signal::kLogs, MakeLogs("now"))).ok());
  EXPECT_THAT(SplitLines(ReadFile(path)), SizeIs(1));  // before any shutdown
  m.exporter->Shutdown(Clock::now() + std::chrono::seconds(5));
}

TEST(FileExporter, RecordIsOnDiskWithAFlushInterval) {
  TempDir dir;
  std::string path = dir.file("out.jsonl");
  Made m = Make("path: " + path + "\nflush_interval: 10ms\n");
  FakeHost host;
  ASSERT_EQ(m.exporter->Start(host), "");
  ASSERT_TRUE(m.exporter->Push(*MakeBatch(Signal::kLogs, MakeLogs("later"))).ok());
  EXPECT_TRUE(WaitFor([&] { return !ReadFile(path).empty(); }))
      << "the record never reached the file";
  m.exporter->Shutdown(Clock::now() + std::chrono::seconds(5));
  EXPECT_THAT(SplitLines(ReadFile(path)), SizeIs(1));
}

TEST(FileExporter, PushAfterShutdownIsAPermanentError) {
  TempDir dir;
  Made m = Make("path: " + dir.file("x.jsonl") + "\n");
  FakeHost host;
  ASSERT_EQ(m.exporter->Start(host), "");
  m.exporter->Shutdown(Clock::now() + std::chrono::seconds(5));
  m.exporter->Shutdown(Clock::now() + std::chrono::seconds(5));  // idempotent
  Status s = m.exporter->Push(*MakeBatch(Signal::kLogs, MakeLogs("late")));
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(s.retryable());
}

TEST(FileExporter, ShutdownWithoutStartIsSafe) {
  TempDir dir;
  Made m = Make("path: " + dir.file("never.jsonl") + "\n");
  m.exporter->Shutdown(Clock::now());
}

TEST(FileExporter, StartFailsWhenTheFileCannotBeOpened) {
  TempDir dir;
  WriteFile(dir.file("afile"), "");
  Made m = Make("path: " + dir.file("afile") + "/sub/x.jsonl\n");
  FakeHost host;
  EXPECT_THAT(m.exporter->Start(host), ::testing::StartsWith("cannot open"));
  m.exporter->Shutdown(Clock::now());
}

TEST(FileExporter, DeeplyNestedRecordIsNeverWrittenAsBrokenJson) {
  TempDir dir;
  std::string path = dir.file("deep.jsonl");
  Made m = Make("path: " + path + "\n");
  FakeHost host;
  ASSERT_EQ(m.exporter->Start(host), "");
  LogsRequest req;
  auto* v = req.add_resource_logs()->add_scope_logs()->add_log_records()->mutable_body();
  for (int i = 0; i < 40; ++i) v = v->mutable_array_value()->add_values();
  v->set_string_value("leaf");
  auto payload = Payload::Parse(Signal::kLogs, req.SerializeAsString());
  ASSERT_NE(payload, nullptr) << "protobuf accepts this request off the wire";
  Status s = m.exporter->Push(*payload);
  m.exporter->Shutdown(Clock::now() + std::chrono::seconds(5));
  if (!s.ok()) {  // refusing the record is fine (it is counted as send_failed); garbage is not
    EXPECT_EQ(ReadFile(path), "");
    return;
  }
  auto lines = SplitLines(ReadFile(path));
  ASSERT_THAT(lines, SizeIs(1));
  LogsRequest back;
  EXPECT_EQ(DecodeOtlpJson(lines[0], &back), "") << lines[0];
  EXPECT_TRUE(MessageDifferencer::Equals(back, req));
}

TEST(FileExporter, RotationKeepsEveryRecordExactlyOnce) {
  TempDir dir;
  std::string path = dir.file("rotated.jsonl");
  Made m = Make("path: " + path + "\nrotation:\n  max_megabytes: 1\n");
  FakeHost host;
  ASSERT_EQ(m.exporter->Start(host), "");
  // ~12 KiB per record, 300 records: about 3.5 MiB, so at least 3 rotations.
  constexpr int kRecords = 300;
  const std::string filler(12 * 1024, 'f');
  for (int i = 0; i < kRecords; ++i) {
    LogsRequest req = MakeLogs("rec");
    auto* lr = req.mutable_resource_logs(0)->mutable_scope_logs(0)->mutable_log_records(0);
    lr->mutable_body()->set_string_value("record-" + std::to_string(i));
    otelite::testing::AddStringAttr(lr->mutable_attributes(), "filler", filler);
    ASSERT_TRUE(m.exporter->Push(*MakeBatch(Signal::kLogs, req)).ok()) << i;
  }
  m.exporter->Shutdown(Clock::now() + std::chrono::seconds(5));

  std::vector<std::string> files = exporters::file::RotatingFile::ListBackups(path);
  EXPECT_GE(files.size(), 3u);
  files.push_back(path);
  std::multiset<std::string> seen;
  std::vector<std::string> order;
  for (const auto& file : files) {
    std::string data = ReadFile(file);
    EXPECT_LE(data.size(), size_t(1) << 20) << file;
    for (const auto& line : SplitLines(data)) {
      LogsRequest req;
      ASSERT_EQ(DecodeOtlpJson(line, &req), "") << file;
      std::string body =
          req.resource_logs(0).scope_logs(0).log_records(0).body().string_value();
      seen.insert(body);
      order.push_back(body);
    }
  }
  ASSERT_EQ(seen.size(), size_t(kRecords));
  for (int i = 0; i < kRecords; ++i) {
    EXPECT_EQ(seen.count("record-" + std::to_string(i)), 1u) << i;
  }
  // Backups oldest first, then the current file: the records in the order pushed.
  for (int i = 0; i < kRecords; ++i) EXPECT_EQ(order[size_t(i)], "record-" + std::to_string(i));
}

}  // namespace
}  // namespace otelite

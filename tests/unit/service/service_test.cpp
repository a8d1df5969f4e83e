// The Service's pipeline graph, built from a hand-made ServiceConfig whose entries point at
// test-only factories: fake receivers hand batches to the consumers the service gave them, fake
// exporters record what reaches them. No network, no files.
#include "service/service.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "../test_util.h"

namespace otelite {
namespace {

using namespace std::chrono_literals;
using otelite::testing::MakeBatch;
using otelite::testing::MakeLogs;
using otelite::testing::TracesBatch;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// Everything the fake components saw, shared by the factories of one test.
struct World {
  std::mutex mu;
  std::vector<std::string> events;  // "start exporter e1", "shutdown receiver r1", ...
  std::map<std::string, SignalConsumers> receiver_consumers;
  std::map<std::string, int> creates;
  std::map<std::string, SignalSet> exporter_signals;
  std::map<std::string, std::vector<std::string>> received;  // exporter -> batch labels
  std::string failing_exporter;                             // its Start fails
  Host* host = nullptr;

  void Event(std::string e) {
    std::lock_guard lock(mu);
    events.push_back(std::move(e));
  }
  std::vector<std::string> Received(const std::string& exporter) {
    std::lock_guard lock(mu);
    return received[exporter];
  }
  std::vector<std::string> Events() {
    std::lock_guard lock(mu);
    return events;
  }
};

// The label of a batch: the first span's name, or the first log body.
std::string Label(const Payload& p) {
  if (p.signal() == Signal::kTraces) {
    return "traces:" + p.traces().resource_spans(0).scope_spans(0).spans(0).name();
  }
  if (p.signal() == Signal::kLogs) {
    return "logs:" + p.logs().resource_logs(0).scope_logs(0).log_records(0).body().string_value();
  }
  return "metrics";
}

class FakeReceiver : public Receiver {
 public:
  FakeReceiver(World& w, std::string id) : w_(w), id_(std::move(id)) {}
  std::string Start(Host& host) override {
    w_.Event("start receiver " + id_);
    std::lock_guard lock(w_.mu);
    w_.host = &host;
    return {};
  }
  void Shutdown(Deadline) override { w_.Event("shutdown receiver " + id_); }

 private:
  World& w_;
  std::string id_;
};

class FakeExporter : public Exporter {
 public:
  FakeExporter(World& w, std::string id) : w_(w), id_(std::move(id)) {}
  std::string Start(Host&) override {
    w_.Event("start exporter " + id_);
    if (w_.failing_exporter == id_) return "boom";
    return {};
  }
  Status Push(const Payload& payload) noexcept override {
    std::lock_guard lock(w_.mu);
    w_.received[id_].push_back(Label(payload));
    return Status::Ok();
  }
  void Shutdown(Deadline) override { w_.Event("shutdown exporter " + id_); }

 private:
  World& w_;
  std::string id_;
};

class FakeReceiverFactory : public ReceiverFactory {
 public:
  explicit FakeReceiverFactory(World& w) : w_(w) {}
  std::string_view type() const override { return "fakerecv"; }
  std::string_view description() const override { return "test receiver"; }
  SignalSet signals() const override { return SignalSet::All(); }
  std::unique_ptr<ComponentConfig> ParseConfig(const config::ConfNode&,
                                               const config::Ctx&) const override {
    return std::make_unique<ComponentConfig>();
  }
  std::vector<config::KeyDoc> Describe() const override { return {}; }
  std::unique_ptr<Receiver> Create(const CreateSettings& settings, const ComponentConfig&,
                                   const SignalConsumers& consumers) const override {
    std::lock_guard lock(w_.mu);
    w_.receiver_consumers[settings.id.str()] = consumers;
    ++w_.creates[settings.id.str()];
    return std::make_unique<FakeReceiver>(w_, settings.id.str());
  }

 private:
  World& w_;
};

class FakeExporterFactory : public ExporterFactory {
 public:
  explicit FakeExporterFactory(World& w) : w_(w) {}
  std::string_view type() const override { return "fakeexp"; }
  std::string_view description() const override { return "test exporter"; }
  SignalSet signals() const override { return SignalSet::All(); }
  std::unique_ptr<ComponentConfig> ParseConfig(const config::ConfNode&,
                                               const config::Ctx&) const override {
    return std::make_unique<ComponentConfig>();
  }
  std::vector<config::KeyDoc> Describe() const override { return {}; }
  std::unique_ptr<Exporter> Create(const CreateSettings& settings, const ComponentConfig&,
                                   SignalSet signals) const override {
    std::lock_guard lock(w_.mu);
    ++w_.creates[settings.id.str()];
    w_.exporter_signals[settings.id.str()] = signals;
    return std::make_unique<FakeExporter>(w_, settings.id.str());
  }

 private:
  World& w_;
};

class ServiceGraph : public ::testing::Test {
 protected:
  void AddReceiver(const std::string& name) { Add(cfg_.receivers, name, &receivers_); }
  void AddExporter(const std::string& name) { Add(cfg_.exporters, name, &exporters_); }
  void AddPipeline(const std::string& id, Signal signal, std::vector<std::string> receivers,
                   std::vector<std::string> exporters) {
    PipelineConfig p;
    p.id = id;
    p.signal = signal;
    for (auto& r : receivers) p.receivers.push_back(ComponentId("fakerecv", r));
    for (auto& e : exporters) p.exporters.push_back(ComponentId("fakeexp", e));
    cfg_.pipelines.push_back(std::move(p));
  }
  std::unique_ptr<Service> MakeService() {
    cfg_.telemetry.metrics_level = "none";  // no self-metrics port
    cfg_.shutdown_timeout = 20s;
    return std::make_unique<Service>(std::move(cfg_));
  }
  Consumer* ConsumerOf(const std::string& receiver, Signal s) {
    std::lock_guard lock(world_.mu);
    return world_.receiver_consumers.at("fakerecv/" + receiver)[size_t(s)];
  }
  static size_t IndexOf(const std::vector<std::string>& v, const std::string& item) {
    return size_t(std::find(v.begin(), v.end(), item) - v.begin());
  }

  World world_;
  FakeReceiverFactory receivers_{world_};
  FakeExporterFactory exporters_{world_};
  ServiceConfig cfg_;

 private:
  static void Add(std::map<ComponentId, ComponentEntry>& section, const std::string& name,
                  const Factory* factory) {
    ComponentEntry e;
    e.id = ComponentId(std::string(factory->type()), name);
    e.factory = factory;
    e.config = std::make_unique<ComponentConfig>();
    e.path = std::string(KindSectionName(factory->kind())) + "." + e.id.str();
    section.emplace(e.id, std::move(e));
  }
};

TEST_F(ServiceGraph, FanInAndFanOut) {
  AddReceiver("r1");
  AddReceiver("r2");
  AddExporter("e1");
  AddExporter("e2");
  AddPipeline("traces/a", Signal::kTraces, {"r1", "r2"}, {"e1"});
  AddPipeline("traces/b", Signal::kTraces, {"r1"}, {"e1", "e2"});
  AddPipeline("logs", Signal::kLogs, {"r2"}, {"e2"});
  auto service = MakeService();
  ASSERT_EQ(service->Start(), "");
  EXPECT_EQ(service->state(), ServiceState::kReady);

  // One instance per component id, whatever the number of pipelines.
  EXPECT_EQ(world_.creates["fakerecv/r1"], 1);
  EXPECT_EQ(world_.creates["fakerecv/r2"], 1);
  EXPECT_EQ(world_.creates["fakeexp/e1"], 1);
  EXPECT_EQ(world_.creates["fakeexp/e2"], 1);
  // An exporter is created for the signals of the pipelines that name it.
  EXPECT_TRUE(world_.exporter_signals["fakeexp/e1"].Has(Signal::kTraces));
  EXPECT_FALSE(world_.exporter_signals["fakeexp/e1"].Has(Signal::kLogs));
  EXPECT_TRUE(world_.exporter_signals["fakeexp/e2"].Has(Signal::kTraces));
  EXPECT_TRUE(world_.exporter_signals["fakeexp/e2"].Has(Signal::kLogs));
  EXPECT_FALSE(world_.exporter_signals["fakeexp/e2"].Has(Signal::kMetrics));

  // A receiver gets a consumer only for the signals its pipelines carry.
  ASSERT_NE(ConsumerOf("r1", Signal::kTraces), nullptr);
  EXPECT_EQ(ConsumerOf("r1", Signal::kLogs), nullptr);
  EXPECT_EQ(ConsumerOf("r1", Signal::kMetrics), nullptr);
  ASSERT_NE(ConsumerOf("r2", Signal::kTraces), nullptr);
  ASSERT_NE(ConsumerOf("r2", Signal::kLogs), nullptr);
  EXPECT_EQ(ConsumerOf("r2", Signal::kMetrics), nullptr);

  EXPECT_TRUE(ConsumerOf("r1", Signal::kTraces)->Consume(TracesBatch("from-r1")).ok());
  EXPECT_TRUE(ConsumerOf("r2", Signal::kTraces)->Consume(TracesBatch("from-r2")).ok());
  EXPECT_TRUE(
      ConsumerOf("r2", Signal::kLogs)->Consume(MakeBatch(Signal::kLogs, MakeLogs("log"))).ok());
  service->Shutdown();  // drains the exporters' queues
  EXPECT_EQ(service->state(), ServiceState::kStopped);

  // r1 feeds traces/a and traces/b: e1 is in both, so it sees r1's batch twice (as otelcol).
  EXPECT_THAT(world_.Received("fakeexp/e1"),
              UnorderedElementsAre("traces:from-r1-0", "traces:from-r1-0", "traces:from-r2-0"));
  EXPECT_THAT(world_.Received("fakeexp/e2"),
              UnorderedElementsAre("traces:from-r1-0", "logs:log-0"));
}

TEST_F(ServiceGraph, StartsDownstreamFirstAndStopsUpstreamFirst) {
  AddReceiver("r1");
  AddExporter("e1");
  AddExporter("e2");
  AddPipeline("traces", Signal::kTraces, {"r1"}, {"e1", "e2"});
  auto service = MakeService();
  ASSERT_EQ(service->Start(), "");
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(ConsumerOf("r1", Signal::kTraces)->Consume(TracesBatch("b" + std::to_string(i))).ok());
  }
  service->Shutdown();
  service->Shutdown();  // idempotent
  auto ev = world_.Events();
  EXPECT_LT(IndexOf(ev, "start exporter fakeexp/e1"), IndexOf(ev, "start receiver fakerecv/r1"));
  EXPECT_LT(IndexOf(ev, "start exporter fakeexp/e2"), IndexOf(ev, "start receiver fakerecv/r1"));
  EXPECT_LT(IndexOf(ev, "shutdown receiver fakerecv/r1"),
            IndexOf(ev, "shutdown exporter fakeexp/e1"));
  EXPECT_LT(IndexOf(ev, "shutdown receiver fakerecv/r1"),
            IndexOf(ev, "shutdown exporter fakeexp/e2"));
  EXPECT_EQ(std::count(ev.begin(), ev.end(), "shutdown exporter fakeexp/e1"), 1);
  // Everything accepted before shutdown was exported, in order.
  auto e1 = world_.Received("fakeexp/e1");
  ASSERT_EQ(e1.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(e1[size_t(i)], "traces:b" + std::to_string(i) + "-0");
  EXPECT_EQ(world_.Received("fakeexp/e2").size(), 100u);
}

TEST_F(ServiceGraph, StartFailureNamesTheComponentAndStopsWhatStarted) {
  AddReceiver("r1");
  AddExporter("a_ok");  // exporters start in id order: a_ok, then z_bad
  AddExporter("z_bad");
  AddPipeline("traces", Signal::kTraces, {"r1"}, {"a_ok", "z_bad"});
  world_.failing_exporter = "fakeexp/z_bad";
  auto service = MakeService();
  EXPECT_EQ(service->Start(), "cannot start exporter fakeexp/z_bad: boom");
  auto ev = world_.Events();
  // The receiver never started; the exporter that did is shut down again.
  EXPECT_EQ(IndexOf(ev, "start receiver fakerecv/r1"), ev.size());
  EXPECT_LT(IndexOf(ev, "start exporter fakeexp/a_ok"), ev.size());
  EXPECT_LT(IndexOf(ev, "shutdown exporter fakeexp/a_ok"), ev.size());
  EXPECT_NE(service->state(), ServiceState::kReady);
}

TEST_F(ServiceGraph, FatalErrorIsReportedOnce) {
  AddReceiver("r1");
  AddExporter("e1");
  AddPipeline("logs", Signal::kLogs, {"r1"}, {"e1"});
  auto service = MakeService();
  int fatal = 0;
  service->set_on_fatal([&] { ++fatal; });
  ASSERT_EQ(service->Start(), "");
  Host* host;
  {
    std::lock_guard lock(world_.mu);
    host = world_.host;
  }
  ASSERT_EQ(host, service.get());
  host->ReportFatalError(ComponentId("fakerecv", "r1"), "port lost");
  host->ReportFatalError(ComponentId("fakerecv", "r1"), "again");
  EXPECT_EQ(fatal, 1);
  service->Shutdown();
}

}  // namespace
}  // namespace otelite

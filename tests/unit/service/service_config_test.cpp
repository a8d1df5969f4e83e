#include "service/service_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/loader.h"
#include "exporters/file/config.h"
#include "receivers/otlp/config.h"

namespace otelite {
namespace {

using namespace std::chrono_literals;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// Joins lines with '\n', so that line N of the YAML is element N-1 of the list.
std::string Lines(std::initializer_list<std::string_view> lines) {
  std::string out;
  for (auto l : lines) {
    out += l;
    out += '\n';
  }
  return out;
}

struct Parsed {
  ServiceConfig cfg;
  config::Errors errors;
  std::vector<std::string> errs;      // error lines
  std::vector<std::string> warnings;  // warning lines
};

Parsed Parse(const std::string& yaml, const Registry& registry = BuiltinRegistry()) {
  Parsed p;
  config::ConfNode root = config::ParseYaml(yaml, "config.yaml", p.errors);
  EXPECT_FALSE(p.errors.HasErrors()) << "YAML syntax";
  p.cfg = ParseServiceConfig(root, registry, p.errors);
  for (const auto& e : p.errors.all()) (e.warning ? p.warnings : p.errs).push_back(e.str());
  return p;
}

// A valid configuration, the base of most cases (the self-metrics port is off).
const std::string kValid = Lines({
    "receivers:",                       // 1
    "  otlp:",                          // 2
    "    protocols:",                   // 3
    "      grpc:",                      // 4
    "        endpoint: 127.0.0.1:0",    // 5
    "exporters:",                       // 6
    "  debug:",                         // 7
    "service:",                         // 8
    "  telemetry:",                     // 9
    "    metrics:",                     // 10
    "      level: none",                // 11
    "  pipelines:",                     // 12
    "    traces:",                      // 13
    "      receivers: [otlp]",          // 14
    "      exporters: [debug]",         // 15
});

TEST(ServiceConfig, ValidMinimalConfig) {
  Parsed p = Parse(kValid);
  EXPECT_THAT(p.errs, IsEmpty());
  EXPECT_THAT(p.warnings, IsEmpty());
  ASSERT_EQ(p.cfg.receivers.size(), 1u);
  const ComponentEntry& otlp = p.cfg.receivers.at(ComponentId("otlp"));
  EXPECT_EQ(otlp.factory->type(), "otlp");
  EXPECT_EQ(otlp.path, "receivers.otlp");
  EXPECT_EQ(otlp.mark.line, 2);
  const auto& rc = static_cast<const receivers::otlp::Config&>(*otlp.config);
  ASSERT_TRUE(rc.protocols.grpc.has_value());
  EXPECT_EQ(rc.protocols.grpc->endpoint, "127.0.0.1:0");
  EXPECT_EQ(rc.protocols.grpc->max_recv_msg_size_mib, 4);
  EXPECT_FALSE(rc.protocols.http.has_value());

  ASSERT_EQ(p.cfg.pipelines.size(), 1u);
  const PipelineConfig& pl = p.cfg.pipelines[0];
  EXPECT_EQ(pl.id, "traces");
  EXPECT_EQ(pl.signal, Signal::kTraces);
  EXPECT_THAT(pl.receivers, ElementsAre(ComponentId("otlp")));
  EXPECT_THAT(pl.exporters, ElementsAre(ComponentId("debug")));
  EXPECT_EQ(pl.mark.line, 13);
  EXPECT_EQ(p.cfg.telemetry.metrics_level, "none");
  EXPECT_EQ(p.cfg.shutdown_timeout, config::Duration(25s));
  EXPECT_EQ(&p.cfg.Section(Kind::kReceiver), &p.cfg.receivers);
  EXPECT_EQ(&p.cfg.Section(Kind::kExporter), &p.cfg.exporters);
}

TEST(ServiceConfig, EmbeddedDefaultParsesWithoutErrors) {
  config::Errors errors;
  config::ConfNode root = config::LoadAll({}, errors);
  ServiceConfig cfg = ParseServiceConfig(root, BuiltinRegistry(), errors);
  std::vector<std::string> all;
  for (const auto& e : errors.all()) all.push_back(e.str());
  EXPECT_THAT(all, IsEmpty());
  EXPECT_EQ(cfg.pipelines.size(), 3u);
  EXPECT_EQ(cfg.exporters.size(), 2u);
  EXPECT_THAT(cfg.enabled_extensions, ElementsAre(ComponentId("health_check")));
  EXPECT_EQ(cfg.telemetry.metrics_address, "localhost:8888");
}

TEST(ServiceConfig, UnknownComponentTypeListsSupportedTypes) {
  Parsed p = Parse(Lines({
      "receivers:",                     // 1
      "  otlp:",                        // 2
      "    protocols:",                 // 3
      "      grpc:",                    // 4
      "        endpoint: 127.0.0.1:0",  // 5
      "  kafka/in:",                    // 6
      "    brokers: [a]",               // 7
      "exporters:",                     // 8
      "  debug:",                       // 9
      "  kafka:",                       // 10
      "extensions:",                    // 11
      "  pprof:",                       // 12
      "service:",                       // 13
      "  telemetry: {metrics: {level: none}}",  // 14
      "  pipelines:",                   // 15
      "    traces:",                    // 16
      "      receivers: [otlp]",        // 17
      "      exporters: [debug]",       // 18
  }));
  EXPECT_THAT(p.errs,
              ElementsAre("config.yaml:6: receivers.kafka/in: unknown receiver type \"kafka\" "
                          "(supported: otlp)",
                          "config.yaml:10: exporters.kafka: unknown exporter type "
                          "\"kafka\" (supported: debug, file, jaeger, otlp_grpc, otlp_http, prometheus)",
                          "config.yaml:12: extensions.pprof: unknown extension type \"pprof\" "
                          "(supported: file_storage, health_check)"));
}

TEST(ServiceConfig, UnknownKeyInComponentSettings) {
  Parsed p = Parse(Lines({
      "receivers:",                     // 1
      "  otlp:",                        // 2
      "    protocols:",                 // 3
      "      grpc:",                    // 4
      "        endpoint: 127.0.0.1:0",  // 5
      "        max_recv_msg_size: 4",   // 6
      "exporters:",                     // 7
      "  file/x:",                      // 8
      "    path: out.json",             // 9
      "    pathh: typo.json",           // 10
      "service:",                       // 11
      "  telemetry: {metrics: {level: none}}",  // 12
      "  pipelines:",                   // 13
      "    traces:",                    // 14
      "      receivers: [otlp]",        // 15
      "      exporters: [file/x]",      // 16
  }));
  EXPECT_THAT(
      p.errs,
      ElementsAre("config.yaml:6: receivers.otlp.protocols.grpc.max_recv_msg_size: unknown key "
                  "\"max_recv_msg_size\" (valid keys: endpoint, max_recv_msg_size_mib, "
                  "max_concurrent_streams, include_metadata, transport)",
                  "config.yaml:10: exporters.file/x.pathh: unknown key \"pathh\" (valid keys: "
                  "path, format, compression, flush_interval, append, rotation)"));
}

TEST(ServiceConfig, WrongTypeOrRange) {
  Parsed p = Parse(Lines({
      "receivers:",                           // 1
      "  otlp:",                              // 2
      "    protocols:",                       // 3
      "      grpc:",                          // 4
      "        endpoint: 127.0.0.1:0",        // 5
      "        max_recv_msg_size_mib: -1",    // 6
      "      http:",                          // 7
      "        endpoint: 127.0.0.1:0",        // 8
      "        traces_url_path: v1/traces",   // 9
      "        max_request_body_size: big",   // 10
      "exporters:",                           // 11
      "  file:",                              // 12
      "    path: out.json",                   // 13
      "    format: xml",                      // 14
      "    flush_interval: 5",                // 15
      "    rotation:",                        // 16
      "      max_megabytes: 0",               // 17
      "      localtime: maybe",               // 18
      "  debug:",                             // 19
      "    verbosity: loud",                  // 20
      "service:",                             // 21
      "  shutdown_timeout: soon",             // 22
      "  telemetry:",                         // 23
      "    metrics:",                         // 24
      "      level: none",                    // 25
      "    logs:",                            // 26
      "      level: trace",                   // 27
      "  pipelines:",                         // 28
      "    traces:",                          // 29
      "      receivers: [otlp]",              // 30
      "      exporters: [file, debug]",       // 31
  }));
  EXPECT_THAT(
      p.errs,
      ElementsAre(
          "config.yaml:6: receivers.otlp.protocols.grpc.max_recv_msg_size_mib: must be between 1 "
          "and 1024, got -1",
          "config.yaml:9: receivers.otlp.protocols.http.traces_url_path: must start with /",
          "config.yaml:10: receivers.otlp.protocols.http.max_request_body_size: expected an "
          "integer, got \"big\"",
          "config.yaml:14: exporters.file.format: \"xml\" is not one of: json, proto",
          "config.yaml:15: exporters.file.flush_interval: expected a duration such as 200ms, 5s "
          "or 1m30s, got \"5\"",
          "config.yaml:17: exporters.file.rotation.max_megabytes: must be at least 1, got 0",
          "config.yaml:18: exporters.file.rotation.localtime: expected a boolean (true or false), "
          "got \"maybe\"",
          "config.yaml:20: exporters.debug.verbosity: \"loud\" is not one of: basic, normal, "
          "detailed",
          "config.yaml:22: service.shutdown_timeout: expected a duration such as 200ms, 5s or "
          "1m30s, got \"soon\"",
          "config.yaml:27: service.telemetry.logs.level: \"trace\" is not one of: debug, info, "
          "warn, error"));
}

TEST(ServiceConfig, ComponentCrossFieldChecks) {
  Parsed p = Parse(Lines({
      "receivers:",                  // 1
      "  otlp:",                     // 2
      "exporters:",                  // 3
      "  file/nopath:",              // 4
      "  file/appendzstd:",          // 5
      "    path: x.json",            // 6
      "    compression: zstd",       // 7
      "    append: true",            // 8
      "service:",                    // 9
      "  telemetry: {metrics: {level: none}}",  // 10
      "  pipelines:",                // 11
      "    traces:",                 // 12
      "      receivers: [otlp]",     // 13
      "      exporters: [file/nopath, file/appendzstd]",  // 14
  }));
  EXPECT_THAT(p.errs,
              ElementsAre("config.yaml:2: receivers.otlp.protocols: must enable at least one "
                          "protocol (grpc or http)",
                          "config.yaml:4: exporters.file/nopath.path: path must be non-empty",
                          "config.yaml:8: exporters.file/appendzstd.append: append is not "
                          "supported together with compression"));
}

TEST(ServiceConfig, PipelineNamingUndefinedComponents) {
  Parsed p = Parse(Lines({
      "receivers:",                          // 1
      "  otlp:",                             // 2
      "    protocols:",                      // 3
      "      grpc:",                         // 4
      "        endpoint: 127.0.0.1:0",       // 5
      "exporters:",                          // 6
      "  debug:",                            // 7
      "service:",                            // 8
      "  telemetry: {metrics: {level: none}}",  // 9
      "  pipelines:",                        // 10
      "    traces:",                         // 11
      "      receivers:",                    // 12
      "        - otlp",                      // 13
      "        - otlp/missing",              // 14
      "      exporters:",                    // 15
      "        - debug",                     // 16
      "        - file",                      // 17
      "        - debug",                     // 18
      "      processors: [batch]",           // 19
  }));
  EXPECT_THAT(
      p.errs,
      ElementsAre("config.yaml:14: service.pipelines.traces.receivers: references receiver "
                  "\"otlp/missing\" which is not configured",
                  "config.yaml:19: service.pipelines.traces.processors: references processor "
                  "\"batch\" which is not configured",
                  "config.yaml:17: service.pipelines.traces.exporters: references exporter "
                  "\"file\" which is not configured",
                  "config.yaml:18: service.pipelines.traces.exporters: references \"debug\" more "
                  "than once"));
}

TEST(ServiceConfig, UnsupportedPipelineSignal) {
  Parsed p = Parse(Lines({
      "receivers:",                     // 1
      "  otlp:",                        // 2
      "    protocols:",                 // 3
      "      grpc:",                    // 4
      "        endpoint: 127.0.0.1:0",  // 5
      "exporters:",                     // 6
      "  debug:",                       // 7
      "service:",                       // 8
      "  telemetry: {metrics: {level: none}}",  // 9
      "  pipelines:",                   // 10
      "    traces:",                    // 11
      "      receivers: [otlp]",        // 12
      "      exporters: [debug]",       // 13
      "    profiles:",                  // 14
      "      receivers: [otlp]",        // 15
      "      exporters: [debug]",       // 16
      "    metric/x:",                  // 17
      "      receivers: [otlp]",        // 18
      "      exporters: [debug]",       // 19
  }));
  EXPECT_THAT(p.errs,
              ElementsAre("config.yaml:14: service.pipelines.profiles: unsupported pipeline "
                          "signal \"profiles\" (supported: traces, metrics, logs)",
                          "config.yaml:17: service.pipelines.metric/x: unsupported pipeline "
                          "signal \"metric\" (supported: traces, metrics, logs)"));
  ASSERT_EQ(p.cfg.pipelines.size(), 1u);
}

TEST(ServiceConfig, PipelineWithoutExportersOrReceivers) {
  Parsed p = Parse(Lines({
      "receivers:",                     // 1
      "  otlp:",                        // 2
      "    protocols:",                 // 3
      "      grpc:",                    // 4
      "        endpoint: 127.0.0.1:0",  // 5
      "exporters:",                     // 6
      "  debug:",                       // 7
      "service:",                       // 8
      "  telemetry: {metrics: {level: none}}",  // 9
      "  pipelines:",                   // 10
      "    traces:",                    // 11
      "      receivers: [otlp]",        // 12
      "    logs:",                      // 13
      "      receivers: [otlp]",        // 14
      "      exporters: []",            // 15
      "    metrics:",                   // 16
      "      exporters: [debug]",       // 17
      "      exporter: [debug]",        // 18
  }));
  EXPECT_THAT(p.errs,
              ElementsAre("config.yaml:12: service.pipelines.traces.exporters: must have at least "
                          "one exporter",
                          "config.yaml:15: service.pipelines.logs.exporters: must have at least "
                          "one exporter",
                          "config.yaml:18: service.pipelines.metrics.exporter: unknown key "
                          "\"exporter\" (valid keys: receivers, processors, exporters)",
                          "config.yaml:17: service.pipelines.metrics.receivers: must have at "
                          "least one receiver"));
}

TEST(ServiceConfig, UnknownTopLevelSectionAndServiceKey) {
  Parsed p = Parse(Lines({
      "receivers:",                     // 1
      "  otlp:",                        // 2
      "    protocols:",                 // 3
      "      grpc:",                    // 4
      "        endpoint: 127.0.0.1:0",  // 5
      "exporters:",                     // 6
      "  debug:",                       // 7
      "exporter:",                      // 8
      "  file:",                        // 9
      "service:",                       // 10
      "  telemetry: {metrics: {level: none}}",  // 11
      "  pipeline:",                    // 12
      "    traces: {}",                 // 13
      "  pipelines:",                   // 14
      "    traces:",                    // 15
      "      receivers: [otlp]",        // 16
      "      exporters: [debug]",       // 17
  }));
  EXPECT_THAT(p.errs,
              ElementsAre("config.yaml:8: exporter: unknown top-level section \"exporter\" "
                          "(valid: receivers, processors, exporters, extensions, connectors, "
                          "service)",
                          "config.yaml:12: service.pipeline: unknown key \"pipeline\" (valid "
                          "keys: extensions, pipelines, telemetry, shutdown_timeout)"));
}

TEST(ServiceConfig, ConnectorsAreNotSupported) {
  Parsed p = Parse(Lines({
      "receivers:",                     // 1
      "  otlp:",                        // 2
      "    protocols:",                 // 3
      "      grpc:",                    // 4
      "        endpoint: 127.0.0.1:0",  // 5
      "exporters:",                     // 6
      "  debug:",                       // 7
      "connectors:",                    // 8
      "  forward:",                     // 9
      "service:",                       // 10
      "  telemetry: {metrics: {level: none}}",  // 11
      "  pipelines:",                   // 12
      "    traces:",                    // 13
      "      receivers: [otlp]",        // 14
      "      exporters: [debug]",       // 15
  }));
  EXPECT_THAT(p.errs, ElementsAre("config.yaml:9: connectors.forward: connectors are not "
                                  "supported by otelite yet (supported: none)"));
}

TEST(ServiceConfig, MissingServiceOrPipelines) {
  Parsed none = Parse(Lines({
      "receivers:",  // 1
      "  otlp:",     // 2
      "    protocols: {grpc: {endpoint: '127.0.0.1:0'}}",  // 3
  }));
  EXPECT_THAT(none.errs, Contains("config.yaml:1: service: the service section with pipelines is "
                                  "required"));

  Parsed empty = Parse(Lines({
      "exporters:",           // 1
      "  debug:",             // 2
      "service:",             // 3
      "  pipelines: {}",      // 4
  }));
  EXPECT_THAT(empty.errs, Contains("config.yaml:4: service.pipelines: at least one pipeline must "
                                   "be configured"));
}

TEST(ServiceConfig, UnusedReceiverAndExporterAreWarningsOnly) {
  Parsed p = Parse(Lines({
      "receivers:",                     // 1
      "  otlp:",                        // 2
      "    protocols:",                 // 3
      "      grpc:",                    // 4
      "        endpoint: 127.0.0.1:0",  // 5
      "  otlp/unused:",                 // 6
      "    protocols:",                 // 7
      "      grpc:",                    // 8
      "        endpoint: 127.0.0.1:0",  // 9
      "exporters:",                     // 10
      "  debug:",                       // 11
      "  debug/spare:",                 // 12
      "service:",                       // 13
      "  telemetry: {metrics: {level: none}}",  // 14
      "  pipelines:",                   // 15
      "    traces:",                    // 16
      "      receivers: [otlp]",        // 17
      "      exporters: [debug]",       // 18
  }));
  EXPECT_FALSE(p.errors.HasErrors());
  EXPECT_THAT(p.errs, IsEmpty());
  EXPECT_THAT(p.warnings,
              ElementsAre("config.yaml:6: receivers.otlp/unused: warning: receiver is not used by "
                          "any pipeline",
                          "config.yaml:12: exporters.debug/spare: warning: exporter is not used by "
                          "any pipeline"));
}

TEST(ServiceConfig, TwoComponentsOnOnePort) {
  Parsed p = Parse(Lines({
      "receivers:",                       // 1
      "  otlp:",                          // 2
      "    protocols:",                   // 3
      "      grpc:",                      // 4
      "        endpoint: 0.0.0.0:14317",  // 5
      "exporters:",                       // 6
      "  debug:",                         // 7
      "extensions:",                      // 8
      "  health_check:",                  // 9
      "    endpoint: 0.0.0.0:14317",      // 10
      "service:",                         // 11
      "  extensions: [health_check]",     // 12
      "  telemetry: {metrics: {level: none}}",  // 13
      "  pipelines:",                     // 14
      "    traces:",                      // 15
      "      receivers: [otlp]",          // 16
      "      exporters: [debug]",         // 17
  }));
  EXPECT_THAT(p.errs,
              ElementsAre("config.yaml:10: extensions.health_check.endpoint: endpoint "
                          "0.0.0.0:14317 is already used by receivers.otlp.protocols.grpc.endpoint "
                          "(config.yaml:5)"));
}

// The conflict between the otlp receiver's grpc endpoint and the health check's, for two
// spellings of the hosts; empty when there is no conflict.
std::vector<std::string> ConflictErrors(const std::string& grpc, const std::string& health) {
  Parsed p = Parse(Lines({
      "receivers:",                                  // 1
      "  otlp:",                                     // 2
      "    protocols:",                              // 3
      "      grpc:",                                 // 4
      "        endpoint: \"" + grpc + "\"",          // 5
      "exporters:",                                  // 6
      "  debug:",                                    // 7
      "extensions:",                                 // 8
      "  health_check:",                             // 9
      "    endpoint: \"" + health + "\"",            // 10
      "service:",                                    // 11
      "  extensions: [health_check]",                // 12
      "  telemetry: {metrics: {level: none}}",       // 13
      "  pipelines:",                                // 14
      "    traces:",                                 // 15
      "      receivers: [otlp]",                     // 16
      "      exporters: [debug]",                    // 17
  }));
  return p.errs;
}

TEST(ServiceConfig, ListeningExporterOnATakenPort) {
  Parsed p = Parse(Lines({
      "receivers:",                       // 1
      "  otlp:",                          // 2
      "    protocols:",                   // 3
      "      http:",                      // 4
      "        endpoint: 0.0.0.0:14318",  // 5
      "exporters:",                       // 6
      "  prometheus:",                    // 7
      "    endpoint: :14318",             // 8
      "service:",                         // 9
      "  telemetry: {metrics: {level: none}}",  // 10
      "  pipelines:",                     // 11
      "    metrics:",                     // 12
      "      receivers: [otlp]",          // 13
      "      exporters: [prometheus]",    // 14
  }));
  EXPECT_THAT(p.errs,
              ElementsAre("config.yaml:8: exporters.prometheus.endpoint: endpoint :14318 is "
                          "already used by receivers.otlp.protocols.http.endpoint "
                          "(config.yaml:5)"));
}

TEST(ServiceConfig, PortConflictHostSpellings) {
  EXPECT_THAT(ConflictErrors("localhost:14317", "127.0.0.1:14317"),
              ElementsAre("config.yaml:10: extensions.health_check.endpoint: endpoint "
                          "127.0.0.1:14317 is already used by "
                          "receivers.otlp.protocols.grpc.endpoint (config.yaml:5)"));
  EXPECT_THAT(ConflictErrors("0.0.0.0:14317", "127.0.0.1:14317"), ::testing::SizeIs(1));
  EXPECT_THAT(ConflictErrors("127.0.0.1:14317", "0.0.0.0:14317"), ::testing::SizeIs(1));
  EXPECT_THAT(ConflictErrors(":14317", "localhost:14317"), ::testing::SizeIs(1));
  EXPECT_THAT(ConflictErrors("[::]:14317", "127.0.0.1:14317"), ::testing::SizeIs(1));
  // Different ports, or two distinct specific hosts, do not conflict.
  EXPECT_THAT(ConflictErrors("127.0.0.1:14317", "127.0.0.1:14318"), IsEmpty());
  EXPECT_THAT(ConflictErrors("127.0.0.1:14317", "127.0.0.2:14317"), IsEmpty());
  // Port 0 is ephemeral and never conflicts.
  EXPECT_THAT(ConflictErrors("127.0.0.1:0", "127.0.0.1:0"), IsEmpty());
  EXPECT_THAT(ConflictErrors("0.0.0.0:0", "localhost:0"), IsEmpty());
}

TEST(ServiceConfig, EndpointsMustBeHostPort) {
  EXPECT_THAT(ConflictErrors("127.0.0.1:0", "localhost"),
              ElementsAre("config.yaml:10: extensions.health_check.endpoint: \"localhost\" is "
                          "not host:port"));
  EXPECT_THAT(ConflictErrors("127.0.0.1:70000", "127.0.0.1:0"),
              ElementsAre("config.yaml:5: receivers.otlp.protocols.grpc.endpoint: "
                          "\"127.0.0.1:70000\": the port must be a number from 0 to 65535"));
  EXPECT_THAT(ConflictErrors("localhost:", "127.0.0.1:0"),
              ElementsAre("config.yaml:5: receivers.otlp.protocols.grpc.endpoint: "
                          "\"localhost:\": the port must be a number from 0 to 65535"));
  EXPECT_THAT(ConflictErrors("::1:4317", "127.0.0.1:0"),
              ElementsAre("config.yaml:5: receivers.otlp.protocols.grpc.endpoint: \"::1:4317\": "
                          "write an IPv6 host in brackets, as [::1]:4317"));
  EXPECT_THAT(ConflictErrors("[::1]:0", ":0"), IsEmpty());
}

TEST(ServiceConfig, SelfMetricsAddressMustBeHostPort) {
  Parsed p = Parse(Lines({
      "receivers:",                     // 1
      "  otlp:",                        // 2
      "    protocols:",                 // 3
      "      grpc:",                    // 4
      "        endpoint: 127.0.0.1:0",  // 5
      "exporters:",                     // 6
      "  debug:",                       // 7
      "service:",                       // 8
      "  telemetry:",                   // 9
      "    metrics:",                   // 10
      "      address: localhost:http",  // 11
      "  pipelines:",                   // 12
      "    traces:",                    // 13
      "      receivers: [otlp]",        // 14
      "      exporters: [debug]",       // 15
  }));
  EXPECT_THAT(p.errs, ElementsAre("config.yaml:11: service.telemetry.metrics.address: "
                                  "\"localhost:http\": the port must be a number from 0 to "
                                  "65535"));
}

TEST(ServiceConfig, DefaultEndpointsConflictWithWrittenOnes) {
  // grpc and http with default endpoints (localhost:4317, localhost:4318); the health check
  // is put on 4318 explicitly; the error names the default's path and the line of `http:`.
  Parsed p = Parse(Lines({
      "receivers:",                        // 1
      "  otlp:",                           // 2
      "    protocols:",                    // 3
      "      grpc:",                       // 4
      "      http:",                       // 5
      "exporters:",                        // 6
      "  debug:",                          // 7
      "extensions:",                       // 8
      "  health_check:",                   // 9
      "    endpoint: localhost:4318",      // 10
      "service:",                          // 11
      "  extensions: [health_check]",      // 12
      "  telemetry: {metrics: {level: none}}",  // 13
      "  pipelines:",                      // 14
      "    logs:",                         // 15
      "      receivers: [otlp]",           // 16
      "      exporters: [debug]",          // 17
  }));
  EXPECT_THAT(p.errs,
              ElementsAre("config.yaml:10: extensions.health_check.endpoint: endpoint "
                          "localhost:4318 is already used by "
                          "receivers.otlp.protocols.http.endpoint (config.yaml:5)"));
}

TEST(ServiceConfig, SelfMetricsPortTakesPartInConflicts) {
  Parsed p = Parse(Lines({
      "receivers:",                        // 1
      "  otlp:",                           // 2
      "    protocols:",                    // 3
      "      grpc:",                       // 4
      "        endpoint: localhost:8888",  // 5
      "exporters:",                        // 6
      "  debug:",                          // 7
      "service:",                          // 8
      "  telemetry:",                      // 9
      "    metrics:",                      // 10
      "      address: 127.0.0.1:8888",     // 11
      "  pipelines:",                      // 12
      "    traces:",                       // 13
      "      receivers: [otlp]",           // 14
      "      exporters: [debug]",          // 15
  }));
  EXPECT_THAT(p.errs,
              ElementsAre("config.yaml:11: service.telemetry.metrics.address: endpoint "
                          "127.0.0.1:8888 is already used by "
                          "receivers.otlp.protocols.grpc.endpoint (config.yaml:5)"));
}

TEST(ServiceConfig, UnusedReceiverAndDisabledExtensionDoNotConflict) {
  Parsed p = Parse(Lines({
      "receivers:",                         // 1
      "  otlp:",                            // 2
      "    protocols:",                     // 3
      "      grpc:",                        // 4
      "        endpoint: 127.0.0.1:14317",  // 5
      "  otlp/idle:",                       // 6
      "    protocols:",                     // 7
      "      grpc:",                        // 8
      "        endpoint: 127.0.0.1:14317",  // 9
      "exporters:",                         // 10
      "  debug:",                           // 11
      "extensions:",                        // 12
      "  health_check:",                    // 13
      "    endpoint: 127.0.0.1:14317",      // 14
      "service:",                           // 15
      "  telemetry: {metrics: {level: none}}",  // 16
      "  pipelines:",                       // 17
      "    traces:",                        // 18
      "      receivers: [otlp]",            // 19
      "      exporters: [debug]",           // 20
  }));
  EXPECT_THAT(p.errs, IsEmpty());
}

// A traces-only exporter registered under a new name with an older one beside it, as otelcol
// renamed `otlp` to `otlp_grpc`: exercises the alias and the signal checks with no real backend.
struct TracesOnlyConfig : ComponentConfig {
  static const config::Schema<TracesOnlyConfig>& Schema() {
    static const config::Schema<TracesOnlyConfig> s;
    return s;
  }
};
class TracesOnlyFactory : public TypedFactory<ExporterFactory, TracesOnlyConfig> {
 public:
  std::string_view type() const override { return "traces_only"; }
  std::string_view description() const override { return "test"; }
  SignalSet signals() const override { return {Signal::kTraces}; }
  std::unique_ptr<Exporter> Create(const CreateSettings&, const ComponentConfig&,
                                   SignalSet) const override {
    return nullptr;
  }
};

const Registry& RegistryWithAlias() {
  static const Registry r = [] {
    Registry reg;
    otelite::receivers::otlp::Register(reg);
    reg.Add(std::make_unique<TracesOnlyFactory>(), {"tracesonly"});
    return reg;
  }();
  return r;
}

TEST(ServiceConfig, DeprecatedAliasResolvesWithAWarning) {
  Parsed p = Parse(Lines({
                       "receivers:",                          // 1
                       "  otlp:",                             // 2
                       "    protocols:",                      // 3
                       "      grpc: {endpoint: 127.0.0.1:0}",  // 4
                       "exporters:",                          // 5
                       "  tracesonly/a:",                     // 6
                       "service:",                            // 7
                       "  telemetry: {metrics: {level: none}}",  // 8
                       "  pipelines:",                        // 9
                       "    traces: {receivers: [otlp], exporters: [tracesonly/a]}",  // 10
                   }),
                   RegistryWithAlias());
  EXPECT_THAT(p.errs, IsEmpty());
  EXPECT_THAT(p.warnings,
              ElementsAre("config.yaml:6: exporters.tracesonly/a: warning: \"tracesonly\" is a "
                          "deprecated name of exporter type \"traces_only\"; use the new name"));
  const ComponentEntry& e = p.cfg.exporters.begin()->second;
  EXPECT_EQ(e.id, ComponentId("tracesonly", "a"));
  EXPECT_EQ(e.factory->type(), "traces_only");
  EXPECT_THAT(RegistryWithAlias().AliasesOf(e.factory), ElementsAre("tracesonly"));
}

TEST(ServiceConfig, ComponentInAPipelineOfASignalItDoesNotSupport) {
  Parsed p = Parse(Lines({
                       "receivers:",                          // 1
                       "  otlp:",                             // 2
                       "    protocols:",                      // 3
                       "      grpc: {endpoint: 127.0.0.1:0}",  // 4
                       "exporters:",                          // 5
                       "  traces_only:",                      // 6
                       "service:",                            // 7
                       "  telemetry: {metrics: {level: none}}",  // 8
                       "  pipelines:",                        // 9
                       "    traces: {receivers: [otlp], exporters: [traces_only]}",  // 10
                       "    logs:",                           // 11
                       "      receivers: [otlp]",             // 12
                       "      exporters: [traces_only]",      // 13
                   }),
                   RegistryWithAlias());
  EXPECT_THAT(p.errs, ElementsAre("config.yaml:13: service.pipelines.logs.exporters: exporter "
                                  "\"traces_only\" does not support logs"));
}

TEST(ServiceConfig, NamedIdsAndNamedPipelines) {
  Parsed p = Parse(Lines({
      "receivers:",                     // 1
      "  otlp:",                        // 2
      "    protocols:",                 // 3
      "      grpc:",                    // 4
      "        endpoint: 127.0.0.1:0",  // 5
      "  otlp/2:",                      // 6
      "    protocols:",                 // 7
      "      http:",                    // 8
      "        endpoint: 127.0.0.1:0",  // 9
      "exporters:",                     // 10
      "  debug:",                       // 11
      "  debug/verbose:",               // 12
      "    verbosity: detailed",        // 13
      "service:",                       // 14
      "  telemetry: {metrics: {level: none}}",  // 15
      "  pipelines:",                   // 16
      "    traces/a:",                  // 17
      "      receivers: [otlp]",        // 18
      "      exporters: [debug]",       // 19
      "    traces/b:",                  // 20
      "      receivers: [otlp, otlp/2]",        // 21
      "      exporters: [debug, debug/verbose]",  // 22
      "    logs:",                      // 23
      "      receivers: [otlp/2]",      // 24
      "      exporters: [debug/verbose]",  // 25
  }));
  EXPECT_THAT(p.errs, IsEmpty());
  EXPECT_THAT(p.warnings, IsEmpty());
  ASSERT_TRUE(p.cfg.receivers.count(ComponentId("otlp", "2")));
  EXPECT_EQ(p.cfg.receivers.at(ComponentId("otlp", "2")).path, "receivers.otlp/2");
  ASSERT_TRUE(p.cfg.exporters.count(ComponentId("debug", "verbose")));
  ASSERT_EQ(p.cfg.pipelines.size(), 3u);
  EXPECT_EQ(p.cfg.pipelines[0].id, "traces/a");
  EXPECT_EQ(p.cfg.pipelines[1].id, "traces/b");
  EXPECT_EQ(p.cfg.pipelines[1].signal, Signal::kTraces);
  EXPECT_THAT(p.cfg.pipelines[1].receivers,
              ElementsAre(ComponentId("otlp"), ComponentId("otlp", "2")));
  EXPECT_THAT(p.cfg.pipelines[1].exporters,
              ElementsAre(ComponentId("debug"), ComponentId("debug", "verbose")));
  EXPECT_EQ(p.cfg.pipelines[2].signal, Signal::kLogs);
}

TEST(ServiceConfig, InvalidComponentIds) {
  Parsed p = Parse(Lines({
      "receivers:",                     // 1
      "  otlp:",                        // 2
      "    protocols:",                 // 3
      "      grpc:",                    // 4
      "        endpoint: 127.0.0.1:0",  // 5
      "exporters:",                     // 6
      "  debug:",                       // 7
      "  debug/:",                      // 8
      "  de-bug:",                      // 9
      "service:",                       // 10
      "  telemetry: {metrics: {level: none}}",  // 11
      "  pipelines:",                   // 12
      "    traces:",                    // 13
      "      receivers: [otlp]",        // 14
      "      exporters: [debug]",       // 15
  }));
  EXPECT_THAT(p.errs,
              ElementsAre("config.yaml:8: exporters.debug/: the name part after '/' must not be "
                          "empty",
                          "config.yaml:9: exporters.de-bug: invalid character '-' in type "
                          "\"de-bug\" (letters, digits and _ only)"));
}

TEST(ServiceConfig, AllErrorsAreReportedAtOnce) {
  Parsed p = Parse(Lines({
      "receivers:",                     // 1
      "  otlp:",                        // 2
      "    protocols:",                 // 3
      "      grpc:",                    // 4
      "        endpoint: 127.0.0.1:0",  // 5
      "exporters:",                     // 6
      "  file/x:",                      // 7
      "    path: \"\"",                 // 8
      "    format: xml",                // 9
      "  debug:",                       // 10
      "service:",                       // 11
      "  telemetry: {metrics: {level: none}}",  // 12
      "  pipelines:",                   // 13
      "    traces:",                    // 14
      "      receivers: [otlp, zipkin]",  // 15
      "      exporters: [file/x, debug]",  // 16
      "    profiles:",                  // 17
      "      receivers: [otlp]",        // 18
      "      exporters: [debug]",       // 19
  }));
  EXPECT_THAT(
      p.errs,
      UnorderedElementsAre(
          "config.yaml:9: exporters.file/x.format: \"xml\" is not one of: json, proto",
          "config.yaml:8: exporters.file/x.path: path must be non-empty",
          "config.yaml:15: service.pipelines.traces.receivers: references receiver \"zipkin\" "
          "which is not configured",
          "config.yaml:17: service.pipelines.profiles: unsupported pipeline signal \"profiles\" "
          "(supported: traces, metrics, logs)"));
}

TEST(ServiceConfig, TelemetrySettings) {
  Parsed p = Parse(Lines({
      "receivers:",                     // 1
      "  otlp:",                        // 2
      "    protocols:",                 // 3
      "      grpc:",                    // 4
      "        endpoint: 127.0.0.1:0",  // 5
      "exporters:",                     // 6
      "  debug:",                       // 7
      "service:",                       // 8
      "  shutdown_timeout: 3s",         // 9
      "  telemetry:",                   // 10
      "    metrics:",                   // 11
      "      level: detailed",          // 12
      "      readers:",                 // 13
      "        - pull:",                // 14
      "            exporter:",          // 15
      "              prometheus:",      // 16
      "                host: 127.0.0.1",  // 17
      "                port: 0",        // 18
      "    logs:",                      // 19
      "      level: debug",             // 20
      "      encoding: json",           // 21
      "  pipelines:",                   // 22
      "    traces:",                    // 23
      "      receivers: [otlp]",        // 24
      "      exporters: [debug]",       // 25
  }));
  EXPECT_THAT(p.errs, IsEmpty());
  EXPECT_EQ(p.cfg.shutdown_timeout, config::Duration(3s));
  EXPECT_EQ(p.cfg.telemetry.metrics_address, "127.0.0.1:0");
  EXPECT_EQ(p.cfg.telemetry.metrics_level, "detailed");
  EXPECT_EQ(p.cfg.telemetry.log_level, "debug");
  EXPECT_EQ(p.cfg.telemetry.log_encoding, "json");
}

TEST(ServiceConfig, FileExporterSettingsAreDecoded) {
  Parsed p = Parse(Lines({
      "receivers:",                     // 1
      "  otlp:",                        // 2
      "    protocols:",                 // 3
      "      grpc:",                    // 4
      "        endpoint: 127.0.0.1:0",  // 5
      "exporters:",                     // 6
      "  file:",                        // 7
      "    path: /tmp/x.pb",            // 8
      "    format: proto",              // 9
      "    compression: zstd",          // 10
      "    flush_interval: 0",          // 11
      "    rotation:",                  // 12
      "service:",                       // 13
      "  telemetry: {metrics: {level: none}}",  // 14
      "  pipelines:",                   // 15
      "    metrics:",                   // 16
      "      receivers: [otlp]",        // 17
      "      exporters: [file]",        // 18
  }));
  EXPECT_THAT(p.errs, IsEmpty());
  const auto& fc =
      static_cast<const exporters::file::Config&>(*p.cfg.exporters.at(ComponentId("file")).config);
  EXPECT_EQ(fc.path, "/tmp/x.pb");
  EXPECT_EQ(fc.format, "proto");
  EXPECT_EQ(fc.compression, "zstd");
  EXPECT_EQ(fc.flush_interval, config::Duration(0));
  ASSERT_TRUE(fc.rotation.has_value());
  EXPECT_EQ(fc.rotation->max_megabytes, 100);
  EXPECT_EQ(fc.rotation->max_backups, 100);
}

}  // namespace
}  // namespace otelite

namespace otelite {
namespace {

TEST(ServiceConfig, QueueStorageMustBeAnEnabledStorageExtension) {
  Parsed p = Parse(Lines({
      "receivers:",                                          // 1
      "  otlp: {protocols: {grpc: {endpoint: 127.0.0.1:0}}}",  // 2
      "extensions:",                                         // 3
      "  file_storage/off:",                                 // 4
      "    directory: .",                                    // 5
      "  health_check: {endpoint: 127.0.0.1:0}",             // 6
      "exporters:",                                          // 7
      "  otlp_grpc/a:",                                      // 8
      "    endpoint: 127.0.0.1:1",                           // 9
      "    sending_queue:",                                  // 10
      "      storage: file_storage/off",                     // 11
      "  otlp_grpc/b:",                                      // 12
      "    endpoint: 127.0.0.1:1",                           // 13
      "    sending_queue: {storage: health_check}",          // 14
      "service:",                                            // 15
      "  extensions: [health_check]",                        // 16
      "  telemetry: {metrics: {level: none}}",               // 17
      "  pipelines:",                                        // 18
      "    traces: {receivers: [otlp], exporters: [otlp_grpc/a, otlp_grpc/b]}",  // 19
  }));
  EXPECT_THAT(p.errs,
              ElementsAre("config.yaml:11: exporters.otlp_grpc/a.sending_queue.storage: "
                          "\"file_storage/off\" is not an enabled storage extension (define it "
                          "under extensions and list it in service.extensions)",
                          "config.yaml:14: exporters.otlp_grpc/b.sending_queue.storage: "
                          "\"health_check\" is not a storage extension"));
}

}  // namespace
}  // namespace otelite

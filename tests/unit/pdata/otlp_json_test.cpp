#include "pdata/otlp_json.h"

#include <google/protobuf/util/message_differencer.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <nlohmann/json.hpp>

#include "../test_util.h"

namespace otelite {
namespace {

// Encodes, failing the test when encoding fails.
std::string EncodeJsonOrFail(const google::protobuf::Message& m) {
  std::string out;
  std::string err = EncodeOtlpJson(m, &out);
  EXPECT_EQ(err, "");
  return out;
}


using google::protobuf::util::MessageDifferencer;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
namespace pb = otelite::testing::pb;
using otelite::testing::SpanIdBytes;
using otelite::testing::TraceIdBytes;

std::string Raw(std::initializer_list<int> bytes) {
  std::string out;
  for (int b : bytes) out.push_back(char(b));
  return out;
}

// Collects every object key in a JSON tree.
void Keys(const nlohmann::json& j, std::vector<std::string>* out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      out->push_back(it.key());
      Keys(it.value(), out);
    }
  } else if (j.is_array()) {
    for (const auto& item : j) Keys(item, out);
  }
}

constexpr char kTracesJson[] = R"({
  "resourceSpans": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
    "scopeSpans": [{
      "scope": {"name": "lib", "version": "1.0"},
      "spans": [
        {
          "traceId": "5B8EFFF798038103D269B633813FC60C",
          "spanId": "eee19b7ec3c1b174",
          "parentSpanId": "eee19b7ec3c1b173",
          "name": "camel",
          "kind": 2,
          "startTimeUnixNano": "1544712660000000000",
          "endTimeUnixNano": 1544712661000000000,
          "attributes": [
            {"key": "as_string", "value": {"intValue": "9007199254740993"}},
            {"key": "as_number", "value": {"intValue": -7}}
          ],
          "status": {"code": 2, "message": "boom"},
          "someFutureField": {"nested": [1, 2, 3]}
        },
        {
          "trace_id": "0102030405060708090a0b0c0d0e0f10",
          "span_id": "1112131415161718",
          "parent_span_id": "",
          "name": "snake",
          "kind": "SPAN_KIND_SERVER",
          "start_time_unix_nano": "1",
          "end_time_unix_nano": 2,
          "status": {"code": "STATUS_CODE_OK"}
        }
      ]
    }]
  }],
  "unknownTopLevel": true
})";

TEST(OtlpJsonDecode, HandWrittenTraces) {
  TracesRequest req;
  ASSERT_EQ(DecodeOtlpJson(kTracesJson, &req), "");
  ASSERT_EQ(req.resource_spans_size(), 1);
  const auto& rs = req.resource_spans(0);
  ASSERT_EQ(rs.resource().attributes_size(), 1);
  EXPECT_EQ(rs.resource().attributes(0).value().string_value(), "svc");
  ASSERT_EQ(rs.scope_spans_size(), 1);
  EXPECT_EQ(rs.scope_spans(0).scope().name(), "lib");
  ASSERT_EQ(rs.scope_spans(0).spans_size(), 2);

  const pb::trace::Span& a = rs.scope_spans(0).spans(0);
  EXPECT_EQ(a.trace_id(), Raw({0x5B, 0x8E, 0xFF, 0xF7, 0x98, 0x03, 0x81, 0x03, 0xD2, 0x69, 0xB6,
                               0x33, 0x81, 0x3F, 0xC6, 0x0C}));
  EXPECT_EQ(a.span_id(), Raw({0xEE, 0xE1, 0x9B, 0x7E, 0xC3, 0xC1, 0xB1, 0x74}));
  EXPECT_EQ(a.parent_span_id(), Raw({0xEE, 0xE1, 0x9B, 0x7E, 0xC3, 0xC1, 0xB1, 0x73}));
  EXPECT_EQ(a.name(), "camel");
  EXPECT_EQ(a.kind(), pb::trace::Span::SPAN_KIND_SERVER);
  EXPECT_EQ(a.start_time_unix_nano(), 1544712660000000000ULL);
  EXPECT_EQ(a.end_time_unix_nano(), 1544712661000000000ULL);
  ASSERT_EQ(a.attributes_size(), 2);
  EXPECT_EQ(a.attributes(0).value().int_value(), 9007199254740993LL);  // not rounded to a double
  EXPECT_EQ(a.attributes(1).value().int_value(), -7);
  EXPECT_EQ(a.status().code(), pb::trace::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(a.status().message(), "boom");

  const pb::trace::Span& b = rs.scope_spans(0).spans(1);
  EXPECT_EQ(b.trace_id(), Raw({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}));
  EXPECT_EQ(b.span_id(), Raw({0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18}));
  EXPECT_EQ(b.parent_span_id(), "");
  EXPECT_EQ(b.name(), "snake");
  EXPECT_EQ(b.kind(), pb::trace::Span::SPAN_KIND_SERVER);
  EXPECT_EQ(b.start_time_unix_nano(), 1u);
  EXPECT_EQ(b.end_time_unix_nano(), 2u);
  EXPECT_EQ(b.status().code(), pb::trace::Status::STATUS_CODE_OK);
}

TEST(OtlpJsonDecode, LargeUint64AsNumberAndString) {
  TracesRequest req;
  ASSERT_EQ(DecodeOtlpJson(R"({"resourceSpans":[{"scopeSpans":[{"spans":[
      {"startTimeUnixNano": 18446744073709551615, "endTimeUnixNano": "18446744073709551614",
       "attributes": [{"key": "big", "value": {"intValue": 9007199254740993}},
                      {"key": "min", "value": {"intValue": -9223372036854775808}}]}
  ]}]}]})", &req), "");
  const auto& span = req.resource_spans(0).scope_spans(0).spans(0);
  // Integers past 2^53 written as JSON numbers are not rounded through a double.
  EXPECT_EQ(span.attributes(0).value().int_value(), 9007199254740993LL);
  EXPECT_EQ(span.attributes(1).value().int_value(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(span.start_time_unix_nano(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(span.end_time_unix_nano(), std::numeric_limits<uint64_t>::max() - 1);
}

TEST(OtlpJsonDecode, LogsAndMetricsIds) {
  LogsRequest logs;
  ASSERT_EQ(DecodeOtlpJson(R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[{
      "timeUnixNano":"5","severityNumber":"SEVERITY_NUMBER_WARN","body":{"stringValue":"x"},
      "traceId":"000102030405060708090a0b0c0d0e0f","spanId":"a0a1a2a3a4a5a6a7"}]}]}]})",
                           &logs),
            "");
  const auto& lr = logs.resource_logs(0).scope_logs(0).log_records(0);
  EXPECT_EQ(lr.severity_number(), pb::logs::SEVERITY_NUMBER_WARN);
  EXPECT_EQ(lr.trace_id(), Raw({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}));
  EXPECT_EQ(lr.span_id(), Raw({0xA0, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xA7}));

  MetricsRequest metrics;
  ASSERT_EQ(DecodeOtlpJson(R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"m",
      "sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[{"asInt":"-5",
      "exemplars":[{"asDouble":1.5,"traceId":"ffffffffffffffffffffffffffffffff",
                    "spanId":"0000000000000001"}]}]}}]}]}]})",
                           &metrics),
            "");
  const auto& m = metrics.resource_metrics(0).scope_metrics(0).metrics(0);
  ASSERT_TRUE(m.has_sum());
  EXPECT_EQ(m.sum().aggregation_temporality(), pb::metrics::AGGREGATION_TEMPORALITY_CUMULATIVE);
  EXPECT_EQ(m.sum().data_points(0).as_int(), -5);
  const auto& ex = m.sum().data_points(0).exemplars(0);
  EXPECT_EQ(ex.trace_id(), std::string(16, '\xff'));
  EXPECT_EQ(ex.span_id(), Raw({0, 0, 0, 0, 0, 0, 0, 1}));
}

TEST(OtlpJsonDecode, AttributeNamedLikeAnIdIsNotRewritten) {
  TracesRequest req;
  ASSERT_EQ(DecodeOtlpJson(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[
      {"key":"traceId","value":{"stringValue":"not hex at all"}},
      {"key":"spanId","value":{"kvlistValue":{"values":[{"key":"traceId",
        "value":{"stringValue":"zz"}}]}}}
  ]}]}]}]})", &req), "");
  const auto& attrs = req.resource_spans(0).scope_spans(0).spans(0).attributes();
  EXPECT_EQ(attrs[0].value().string_value(), "not hex at all");
  EXPECT_EQ(attrs[1].value().kvlist_value().values(0).value().string_value(), "zz");
}

TEST(OtlpJsonDecode, BytesValueStaysBase64) {
  LogsRequest req;
  ASSERT_EQ(DecodeOtlpJson(R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[
      {"body":{"bytesValue":"AP8Q"}}]}]}]})", &req), "");
  EXPECT_EQ(req.resource_logs(0).scope_logs(0).log_records(0).body().bytes_value(),
            Raw({0x00, 0xFF, 0x10}));
}

TEST(OtlpJsonDecode, Errors) {
  TracesRequest req;
  EXPECT_EQ(DecodeOtlpJson("{", &req), "the body is not valid JSON");
  EXPECT_EQ(DecodeOtlpJson("", &req), "the body is not valid JSON");
  EXPECT_EQ(DecodeOtlpJson("{\"resourceSpans\": []} trailing", &req),
            "the body is not valid JSON");
  EXPECT_EQ(DecodeOtlpJson("[]", &req), "the body must be a JSON object");
  EXPECT_EQ(DecodeOtlpJson("\"text\"", &req), "the body must be a JSON object");
  EXPECT_EQ(DecodeOtlpJson("42", &req), "the body must be a JSON object");

  EXPECT_EQ(DecodeOtlpJson(R"({"resourceSpans":[{"scopeSpans":[{"spans":[
      {"traceId":"abc"}]}]}]})", &req),
            "field traceId: \"abc\" is not a hex-encoded id");
  EXPECT_EQ(DecodeOtlpJson(R"({"resourceSpans":[{"scopeSpans":[{"spans":[
      {"spanId":"zzzzzzzzzzzzzzzz"}]}]}]})", &req),
            "field spanId: \"zzzzzzzzzzzzzzzz\" is not a hex-encoded id");
  EXPECT_EQ(DecodeOtlpJson(R"({"resourceSpans":[{"scopeSpans":[{"spans":[
      {"links":[{"span_id":"0g00000000000000"}]}]}]}]})", &req),
            "field span_id: \"0g00000000000000\" is not a hex-encoded id");
  // A base64 id (protobuf's own mapping) is not hex either.
  EXPECT_THAT(DecodeOtlpJson(R"({"resourceSpans":[{"scopeSpans":[{"spans":[
      {"traceId":"W47/95gDgQPSabYzgT/GDA=="}]}]}]})", &req),
              HasSubstr("is not a hex-encoded id"));
}

TEST(OtlpJsonDecode, WrongTypesAreErrors) {
  const char* cases[] = {
      R"({"resourceSpans": "not a list"})",
      R"({"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": "soon"}]}]}]})",
      R"({"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": {}}]}]}]})",
      R"({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 12}]}]}]})",
      R"({"resourceSpans": [{"scopeSpans": [{"spans": [{"startTimeUnixNano": -1}]}]}]})",
      R"({"resourceSpans": [{"scopeSpans": [{"spans": [{"name": 5}]}]}]})",
      R"({"resourceSpans": [{"scopeSpans": [{"spans": [{"kind": true}]}]}]})",
      R"({"resourceSpans": [{"scopeSpans": [{"spans": [{"droppedAttributesCount": -1}]}]}]})",
      R"({"resourceSpans": [{"scopeSpans": [{"spans": [{"name": ["x"]}]}]}]})",
  };
  for (const char* json : cases) {
    TracesRequest req;
    EXPECT_THAT(DecodeOtlpJson(json, &req), Not(IsEmpty())) << json;
  }
}

TEST(OtlpJsonDecode, UnknownFieldsAreIgnored) {
  TracesRequest req;
  EXPECT_EQ(DecodeOtlpJson(R"({"foo": {"bar": [1, 2]}, "resourceSpans": [{"baz": 1,
      "scopeSpans": [{"spans": [{"name": "n", "qux": "traceId"}]}]}]})", &req), "");
  EXPECT_EQ(req.resource_spans(0).scope_spans(0).spans(0).name(), "n");
  EXPECT_EQ(DecodeOtlpJson("{}", &req), "");
}

template <class Message>
void ExpectRoundTrip(const Message& original);

std::string Nested(int depth) {
  std::string json;
  for (int i = 0; i < depth; ++i) json += "{\"a\":";
  json += "1";
  for (int i = 0; i < depth; ++i) json += "}";
  return json;
}

TEST(OtlpJsonDecode, NestingIsBounded) {
  TracesRequest req;
  EXPECT_EQ(DecodeOtlpJson(Nested(50), &req), "");  // unknown fields, ignored
  // 128 levels pass otelite's bound (protobuf's parser may still refuse them on its own).
  EXPECT_NE(DecodeOtlpJson(Nested(128), &req), "the body nests deeper than 128 levels");
  EXPECT_EQ(DecodeOtlpJson(Nested(129), &req), "the body nests deeper than 128 levels");
  // Arrays count as well, and a huge depth is refused without recursing through it.
  EXPECT_EQ(DecodeOtlpJson("{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}",
                           &req),
            "the body nests deeper than 128 levels");
  // Too deep and unterminated: still reported as too deep (the limit is hit first).
  EXPECT_EQ(DecodeOtlpJson(std::string(200, '['), &req), "the body nests deeper than 128 levels");
  EXPECT_EQ(DecodeOtlpJson(std::string(20, '['), &req), "the body is not valid JSON");
}

// A logs request whose body is `depth` arrays nested in one another.
LogsRequest NestedBody(int depth) {
  LogsRequest req;
  auto* v = req.add_resource_logs()->add_scope_logs()->add_log_records()->mutable_body();
  for (int i = 0; i < depth; ++i) v = v->mutable_array_value()->add_values();
  v->set_string_value("leaf");
  return req;
}

TEST(OtlpJsonRoundTrip, ModeratelyNestedAnyValue) { ExpectRoundTrip(NestedBody(20)); }

TEST(OtlpJsonEncode, TooDeepForTheJsonPrinterIsAnErrorNeverBrokenJson) {
  // protobuf's binary parser accepts an AnyValue nested 40 arrays deep; its JSON printer stops
  // at about 30. The encoder must say so rather than hand back truncated JSON.
  LogsRequest req = NestedBody(40);
  LogsRequest wire;
  ASSERT_TRUE(wire.ParseFromString(req.SerializeAsString()))
      << "protobuf accepts this request off the wire";
  std::string json = "stale";
  std::string err = EncodeOtlpJson(req, &json);
  EXPECT_THAT(err, ::testing::HasSubstr("cannot encode as OTLP/JSON"));
  EXPECT_EQ(json, "");
}

// A traces request using every field the JSON mapping treats specially.
TracesRequest RichTraces() {
  TracesRequest req;
  auto* rs = req.add_resource_spans();
  rs->set_schema_url("https://opentelemetry.io/schemas/1.21.0");
  otelite::testing::AddStringAttr(rs->mutable_resource()->mutable_attributes(), "service.name",
                                  "svc \"quoted\" \n newline ☃");
  auto* ss = rs->add_scope_spans();
  ss->mutable_scope()->set_name("lib");
  ss->mutable_scope()->set_version("2.0");
  auto* span = ss->add_spans();
  span->set_trace_id(TraceIdBytes(1));
  span->set_span_id(SpanIdBytes(1));
  span->set_parent_span_id(SpanIdBytes(2));
  span->set_trace_state("k=v");
  span->set_flags(0x101);
  span->set_name("op");
  span->set_kind(pb::trace::Span::SPAN_KIND_CONSUMER);
  span->set_start_time_unix_nano(std::numeric_limits<uint64_t>::max());
  span->set_end_time_unix_nano(1700000000123456789ULL);
  auto* attrs = span->mutable_attributes();
  auto* kv = attrs->Add();
  kv->set_key("int");
  kv->mutable_value()->set_int_value(std::numeric_limits<int64_t>::min());
  kv = attrs->Add();
  kv->set_key("double");
  kv->mutable_value()->set_double_value(0.1);
  kv = attrs->Add();
  kv->set_key("bool");
  kv->mutable_value()->set_bool_value(true);
  kv = attrs->Add();
  kv->set_key("bytes");
  kv->mutable_value()->set_bytes_value(Raw({0x00, 0xFF, 0x10, 0x80}));
  kv = attrs->Add();
  kv->set_key("array");
  kv->mutable_value()->mutable_array_value()->add_values()->set_string_value("a");
  kv->mutable_value()->mutable_array_value()->add_values()->set_int_value(2);
  kv = attrs->Add();
  kv->set_key("map");
  auto* inner = kv->mutable_value()->mutable_kvlist_value()->add_values();
  inner->set_key("traceId");  // an attribute named like an id is not an id
  inner->mutable_value()->set_string_value("plain");
  span->set_dropped_attributes_count(3);
  auto* event = span->add_events();
  event->set_time_unix_nano(1700000000000000001ULL);
  event->set_name("exception");
  otelite::testing::AddStringAttr(event->mutable_attributes(), "exception.message", "bad");
  event->set_dropped_attributes_count(1);
  span->set_dropped_events_count(4);
  auto* link = span->add_links();
  link->set_trace_id(TraceIdBytes(9));
  link->set_span_id(SpanIdBytes(9));
  link->set_trace_state("a=b");
  link->set_flags(1);
  otelite::testing::AddStringAttr(link->mutable_attributes(), "link.kind", "follows");
  span->set_dropped_links_count(5);
  span->mutable_status()->set_code(pb::trace::Status::STATUS_CODE_ERROR);
  span->mutable_status()->set_message("failed");
  // A second span that is mostly empty (zero values are omitted and must come back as zero).
  ss->add_spans()->set_name("empty");
  return req;
}

MetricsRequest RichMetrics() {
  MetricsRequest req;
  auto* rm = req.add_resource_metrics();
  otelite::testing::AddStringAttr(rm->mutable_resource()->mutable_attributes(), "host", "h1");
  auto* sm = rm->add_scope_metrics();
  sm->mutable_scope()->set_name("meter");

  auto* gauge = sm->add_metrics();
  gauge->set_name("gauge");
  gauge->set_unit("1");
  gauge->set_description("a gauge");
  auto* gp = gauge->mutable_gauge()->add_data_points();
  gp->set_time_unix_nano(100);
  gp->set_as_double(-std::numeric_limits<double>::infinity());
  auto* gp2 = gauge->mutable_gauge()->add_data_points();
  gp2->set_as_double(1e-300);
  auto* gex = gp2->add_exemplars();
  gex->set_as_double(2.5);
  gex->set_time_unix_nano(99);
  gex->set_trace_id(TraceIdBytes(3));
  gex->set_span_id(SpanIdBytes(3));
  otelite::testing::AddStringAttr(gex->mutable_filtered_attributes(), "user", "u");

  auto* sum = sm->add_metrics();
  sum->set_name("sum");
  sum->mutable_sum()->set_aggregation_temporality(pb::metrics::AGGREGATION_TEMPORALITY_DELTA);
  sum->mutable_sum()->set_is_monotonic(true);
  auto* sp = sum->mutable_sum()->add_data_points();
  sp->set_start_time_unix_nano(1);
  sp->set_time_unix_nano(2);
  sp->set_as_int(std::numeric_limits<int64_t>::max());
  sp->set_flags(1);
  auto* sex = sp->add_exemplars();
  sex->set_as_int(-3);
  sex->set_trace_id(TraceIdBytes(4));
  sex->set_span_id(SpanIdBytes(4));

  auto* hist = sm->add_metrics();
  hist->set_name("histogram");
  hist->mutable_histogram()->set_aggregation_temporality(
      pb::metrics::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto* hp = hist->mutable_histogram()->add_data_points();
  hp->set_count(std::numeric_limits<uint64_t>::max());
  hp->set_sum(12.75);
  hp->set_min(0);  // explicitly present zero (optional field)
  hp->set_max(9.5);
  for (uint64_t c : {1u, 0u, 7u}) hp->add_bucket_counts(c);
  for (double b : {0.5, 5.0}) hp->add_explicit_bounds(b);
  auto* hex = hp->add_exemplars();
  hex->set_as_double(0.25);
  hex->set_span_id(SpanIdBytes(5));
  hex->set_trace_id(TraceIdBytes(5));

  auto* exp = sm->add_metrics();
  exp->set_name("exponential");
  exp->mutable_exponential_histogram()->set_aggregation_temporality(
      pb::metrics::AGGREGATION_TEMPORALITY_DELTA);
  auto* ep = exp->mutable_exponential_histogram()->add_data_points();
  ep->set_count(10);
  ep->set_sum(3.5);
  ep->set_scale(-3);
  ep->set_zero_count(2);
  ep->set_zero_threshold(1e-9);
  ep->mutable_positive()->set_offset(-2);
  for (uint64_t c : {1u, 2u, 3u}) ep->mutable_positive()->add_bucket_counts(c);
  ep->mutable_negative()->set_offset(4);
  ep->mutable_negative()->add_bucket_counts(4);
  ep->set_min(-1.5);
  ep->set_max(8);
  auto* eex = ep->add_exemplars();
  eex->set_as_int(6);
  eex->set_trace_id(TraceIdBytes(6));
  eex->set_span_id(SpanIdBytes(6));

  auto* summary = sm->add_metrics();
  summary->set_name("summary");
  auto* qp = summary->mutable_summary()->add_data_points();
  qp->set_count(4);
  qp->set_sum(10);
  auto* q = qp->add_quantile_values();
  q->set_quantile(0.5);
  q->set_value(2);
  q = qp->add_quantile_values();
  q->set_quantile(0.99);
  q->set_value(3.25);
  otelite::testing::AddStringAttr(qp->mutable_attributes(), "route", "/a");
  return req;
}

LogsRequest RichLogs() {
  LogsRequest req;
  auto* sl = req.add_resource_logs()->add_scope_logs();
  sl->mutable_scope()->set_name("logger");
  auto* lr = sl->add_log_records();
  lr->set_time_unix_nano(1700000000000000000ULL);
  lr->set_observed_time_unix_nano(1700000000000000001ULL);
  lr->set_severity_number(pb::logs::SEVERITY_NUMBER_ERROR);
  lr->set_severity_text("ERROR");
  lr->mutable_body()->set_string_value("héllo \"wörld\"\t\n\\ \x01");
  lr->set_trace_id(TraceIdBytes(7));
  lr->set_span_id(SpanIdBytes(7));
  lr->set_flags(1);
  lr->set_dropped_attributes_count(2);
  otelite::testing::AddStringAttr(lr->mutable_attributes(), "k", "v");
  auto* lr2 = sl->add_log_records();
  lr2->mutable_body()->set_bytes_value(Raw({0xDE, 0xAD, 0xBE, 0xEF}));
  return req;
}

template <class Message>
void ExpectRoundTrip(const Message& original) {
  std::string json = EncodeJsonOrFail(original);
  ASSERT_FALSE(json.empty());
  EXPECT_EQ(json.find('\n'), std::string::npos) << "one request must fit on one line";
  Message decoded;
  ASSERT_EQ(DecodeOtlpJson(json, &decoded), "") << json;
  std::string diff;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&diff);
  EXPECT_TRUE(differencer.Compare(original, decoded)) << diff << "\n" << json;
}

TEST(OtlpJsonRoundTrip, Traces) { ExpectRoundTrip(RichTraces()); }
TEST(OtlpJsonRoundTrip, Metrics) { ExpectRoundTrip(RichMetrics()); }
TEST(OtlpJsonRoundTrip, Logs) { ExpectRoundTrip(RichLogs()); }
TEST(OtlpJsonRoundTrip, Empty) {
  ExpectRoundTrip(TracesRequest());
  EXPECT_EQ(EncodeJsonOrFail(TracesRequest()), "{}");
}

TEST(OtlpJsonEncode, IdsAreLowercaseHexEnumsIntsInt64Strings) {
  TracesRequest req = RichTraces();
  nlohmann::json j = nlohmann::json::parse(EncodeJsonOrFail(req));
  const auto& span = j["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  const auto& s = req.resource_spans(0).scope_spans(0).spans(0);
  auto hex = [](const std::string& raw) {
    static const char* d = "0123456789abcdef";
    std::string out;
    for (unsigned char c : raw) {
      out += d[c >> 4];
      out += d[c & 15];
    }
    return out;
  };
  EXPECT_EQ(span["traceId"], hex(s.trace_id()));
  EXPECT_EQ(span["traceId"].get<std::string>().size(), 32u);
  EXPECT_EQ(span["spanId"], hex(s.span_id()));
  EXPECT_EQ(span["parentSpanId"], hex(s.parent_span_id()));
  EXPECT_EQ(span["links"][0]["traceId"], hex(s.links(0).trace_id()));
  EXPECT_EQ(span["links"][0]["spanId"], hex(s.links(0).span_id()));
  // The id bytes have high bits set: lowercase hex only.
  for (char c : span["traceId"].get<std::string>()) {
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << c;
  }

  EXPECT_TRUE(span["kind"].is_number_integer());
  EXPECT_EQ(span["kind"], 5);
  EXPECT_EQ(span["status"]["code"], 2);

  EXPECT_TRUE(span["startTimeUnixNano"].is_string());
  EXPECT_EQ(span["startTimeUnixNano"], "18446744073709551615");
  EXPECT_EQ(span["endTimeUnixNano"], "1700000000123456789");
  EXPECT_EQ(span["events"][0]["timeUnixNano"], "1700000000000000001");
  EXPECT_EQ(span["attributes"][0]["value"]["intValue"], "-9223372036854775808");
  EXPECT_EQ(span["attributes"][3]["key"], "bytes");
  EXPECT_EQ(span["attributes"][3]["value"]["bytesValue"], "AP8QgA==");
  EXPECT_EQ(span["attributes"][5]["value"]["kvlistValue"]["values"][0]["value"]["stringValue"],
            "plain");
  EXPECT_EQ(span["droppedAttributesCount"], 3);

  std::vector<std::string> keys;
  Keys(j, &keys);
  for (const auto& k : keys) EXPECT_EQ(k.find('_'), std::string::npos) << "snake_case key " << k;
  EXPECT_NE(std::find(keys.begin(), keys.end(), "droppedLinksCount"), keys.end());
  EXPECT_NE(std::find(keys.begin(), keys.end(), "schemaUrl"), keys.end());
}

TEST(OtlpJsonEncode, MetricsAndLogsFields) {
  nlohmann::json m = nlohmann::json::parse(EncodeJsonOrFail(RichMetrics()));
  const auto& metrics = m["resourceMetrics"][0]["scopeMetrics"][0]["metrics"];
  EXPECT_EQ(metrics[1]["sum"]["aggregationTemporality"], 1);
  EXPECT_EQ(metrics[1]["sum"]["dataPoints"][0]["asInt"], "9223372036854775807");
  const auto& ex = metrics[1]["sum"]["dataPoints"][0]["exemplars"][0];
  EXPECT_EQ(ex["traceId"].get<std::string>().size(), 32u);
  EXPECT_EQ(ex["spanId"].get<std::string>().size(), 16u);
  EXPECT_EQ(metrics[2]["histogram"]["dataPoints"][0]["count"], "18446744073709551615");
  EXPECT_EQ(metrics[2]["histogram"]["dataPoints"][0]["bucketCounts"][2], "7");

  LogsRequest logs = RichLogs();
  nlohmann::json l = nlohmann::json::parse(EncodeJsonOrFail(logs));
  const auto& rec = l["resourceLogs"][0]["scopeLogs"][0]["logRecords"];
  EXPECT_EQ(rec[0]["severityNumber"], 17);
  EXPECT_EQ(rec[0]["traceId"].get<std::string>().size(), 32u);
  EXPECT_EQ(rec[0]["spanId"].get<std::string>().size(), 16u);
  EXPECT_EQ(rec[1]["body"]["bytesValue"], "3q2+7w==");
}

}  // namespace
}  // namespace otelite

namespace otelite {
namespace {

// The encoder rewrites ids in protobuf's JSON text: only the values of the id keys change, never
// text that merely looks like one inside a string, an attribute named like an id, or bytes values.
TEST(OtlpJsonEncode, OnlyIdKeysAreRewrittenInTheText) {
  TracesRequest req;
  auto* span = req.add_resource_spans()->add_scope_spans()->add_spans();
  span->set_trace_id(TraceIdBytes(7));
  span->set_span_id(SpanIdBytes(7));
  span->set_name(R"({"traceId":"AAAAAAAAAAAAAAAAAAAAAA==","spanId":"\u0000"} \" \\)");
  otelite::testing::AddStringAttr(span->mutable_attributes(), "spanId", "AQIDBAUGBwg=");
  auto* bytes = span->add_attributes();
  bytes->set_key("traceId");
  bytes->mutable_value()->set_bytes_value(std::string("\x01\x02\x03", 3));
  std::string json = EncodeJsonOrFail(req);
  nlohmann::json j = nlohmann::json::parse(json);
  const auto& s = j["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(s["traceId"], HexId(TraceIdBytes(7)));
  EXPECT_EQ(s["spanId"], HexId(SpanIdBytes(7)));
  EXPECT_EQ(s["name"], span->name());
  EXPECT_EQ(s["attributes"][0]["value"]["stringValue"], "AQIDBAUGBwg=");
  EXPECT_EQ(s["attributes"][1]["value"]["bytesValue"], "AQID");
  ExpectRoundTrip(req);
}

}  // namespace
}  // namespace otelite

// OTLP → Jaeger api_v2 translation (exporters/jaeger/translate.h): ids, references, kind, status,
// the error tag, events → logs, links, resource → process, scope tags, dropped counts and
// attribute types, each checked on the Jaeger message that is sent.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>

#include "../test_util.h"
#include "exporters/jaeger/translate.h"
#include "jaeger/api_v2/model.pb.h"

namespace otelite {
namespace {

namespace jm = ::jaeger::api_v2;
using exporters::jaeger::TracesToJaeger;
using testing::AddStringAttr;
using testing::SpanIdBytes;
using testing::TraceIdBytes;
namespace pb = testing::pb;
using Attrs = google::protobuf::RepeatedPtrField<pb::common::KeyValue>;
using Tags = google::protobuf::RepeatedPtrField<jm::KeyValue>;

// Every tag (or field) with this key, in order.
std::vector<const jm::KeyValue*> All(const Tags& tags, const std::string& key) {
  std::vector<const jm::KeyValue*> out;
  for (const auto& t : tags) {
    if (t.key() == key) out.push_back(&t);
  }
  return out;
}

// The one tag with this key (the test fails when there are several), or nullptr.
const jm::KeyValue* Find(const Tags& tags, const std::string& key) {
  auto all = All(tags, key);
  EXPECT_LE(all.size(), 1u) << "tag " << key << " appears " << all.size() << " times";
  return all.empty() ? nullptr : all[0];
}

std::optional<std::string> Str(const Tags& tags, const std::string& key) {
  const jm::KeyValue* kv = Find(tags, key);
  if (kv == nullptr) return std::nullopt;
  EXPECT_EQ(kv->v_type(), jm::STRING) << key;
  return kv->v_str();
}

std::optional<int64_t> Int(const Tags& tags, const std::string& key) {
  const jm::KeyValue* kv = Find(tags, key);
  if (kv == nullptr) return std::nullopt;
  EXPECT_EQ(kv->v_type(), jm::INT64) << key;
  return kv->v_int64();
}

// One resource ("svc"), one scope, one bare span; the test fills in the rest.
struct OneSpan {
  TracesRequest req;
  pb::trace::ResourceSpans* rs;
  pb::trace::ScopeSpans* ss;
  pb::trace::Span* span;
  OneSpan() {
    rs = req.add_resource_spans();
    AddStringAttr(rs->mutable_resource()->mutable_attributes(), "service.name", "svc");
    ss = rs->add_scope_spans();
    span = ss->add_spans();
    span->set_trace_id(TraceIdBytes(1));
    span->set_span_id(SpanIdBytes(1));
    span->set_name("op");
    span->set_start_time_unix_nano(1700000000123456789ULL);
    span->set_end_time_unix_nano(1700000002223456790ULL);
  }
  jm::Batch Translate() const {
    jm::Batch b;
    EXPECT_EQ(TracesToJaeger(req, &b), CountSpans());
    return b;
  }
  size_t CountSpans() const {
    size_t n = 0;
    for (const auto& r : req.resource_spans()) {
      for (const auto& s : r.scope_spans()) n += size_t(s.spans_size());
    }
    return n;
  }
};

TEST(JaegerTranslate, IdsNameAndTimesKeepTheirValues) {
  OneSpan t;
  jm::Batch b = t.Translate();
  ASSERT_EQ(b.spans_size(), 1);
  const jm::Span& s = b.spans(0);
  // OTLP and Jaeger ids are both big-endian byte strings: unchanged.
  EXPECT_EQ(s.trace_id(), TraceIdBytes(1));
  EXPECT_EQ(s.span_id(), SpanIdBytes(1));
  EXPECT_EQ(s.operation_name(), "op");
  EXPECT_EQ(s.start_time().seconds(), 1700000000);
  EXPECT_EQ(s.start_time().nanos(), 123456789);
  EXPECT_EQ(s.duration().seconds(), 2);
  EXPECT_EQ(s.duration().nanos(), 100000001);
  EXPECT_EQ(s.references_size(), 0);  // a root span
  EXPECT_FALSE(s.has_process());      // the batch's process applies
}

TEST(JaegerTranslate, IdsOfTheWrongLengthAreRightAligned) {
  OneSpan t;
  t.span->set_trace_id(std::string("\x01\x02", 2));
  t.span->set_span_id(std::string(10, '\x07'));
  jm::Batch b = t.Translate();
  EXPECT_EQ(b.spans(0).trace_id(), std::string(14, '\0') + "\x01\x02");
  EXPECT_EQ(b.spans(0).span_id(), std::string(8, '\x07'));
}

TEST(JaegerTranslate, ParentIsTheFirstReferenceAsChildOfAndLinksFollowAsFollowsFrom) {
  OneSpan t;
  t.span->set_parent_span_id(SpanIdBytes(9));
  auto* l1 = t.span->add_links();
  l1->set_trace_id(TraceIdBytes(7));
  l1->set_span_id(SpanIdBytes(7));
  AddStringAttr(l1->mutable_attributes(), "why", "batch");
  auto* l2 = t.span->add_links();
  l2->set_trace_id(TraceIdBytes(8));
  l2->set_span_id(SpanIdBytes(8));
  AddStringAttr(l2->mutable_attributes(), "opentracing.ref_type", "child_of");
  jm::Batch b = t.Translate();
  const jm::Span& s = b.spans(0);
  ASSERT_EQ(s.references_size(), 3);
  EXPECT_EQ(s.references(0).ref_type(), jm::CHILD_OF);
  EXPECT_EQ(s.references(0).trace_id(), TraceIdBytes(1));
  EXPECT_EQ(s.references(0).span_id(), SpanIdBytes(9));
  EXPECT_EQ(s.references(1).ref_type(), jm::FOLLOWS_FROM);
  EXPECT_EQ(s.references(1).trace_id(), TraceIdBytes(7));
  EXPECT_EQ(s.references(1).span_id(), SpanIdBytes(7));
  // The OpenTracing reference type a link carries is kept.
  EXPECT_EQ(s.references(2).ref_type(), jm::CHILD_OF);
  EXPECT_EQ(s.references(2).trace_id(), TraceIdBytes(8));
}

TEST(JaegerTranslate, ALinkToTheParentMergesIntoTheParentReference) {
  OneSpan t;
  t.span->set_parent_span_id(SpanIdBytes(9));
  auto* l = t.span->add_links();
  l->set_trace_id(TraceIdBytes(1));
  l->set_span_id(SpanIdBytes(9));
  jm::Batch b = t.Translate();
  ASSERT_EQ(b.spans(0).references_size(), 1);
  EXPECT_EQ(b.spans(0).references(0).span_id(), SpanIdBytes(9));
  EXPECT_EQ(b.spans(0).references(0).ref_type(), jm::FOLLOWS_FROM);
}

TEST(JaegerTranslate, AnAllZeroParentIsNoParent) {
  OneSpan t;
  t.span->set_parent_span_id(std::string(8, '\0'));
  EXPECT_EQ(t.Translate().spans(0).references_size(), 0);
}

TEST(JaegerTranslate, SpanKindBecomesTheSpanKindTag) {
  const std::pair<pb::trace::Span::SpanKind, std::optional<std::string>> cases[] = {
      {pb::trace::Span::SPAN_KIND_CLIENT, "client"},
      {pb::trace::Span::SPAN_KIND_SERVER, "server"},
      {pb::trace::Span::SPAN_KIND_PRODUCER, "producer"},
      {pb::trace::Span::SPAN_KIND_CONSUMER, "consumer"},
      {pb::trace::Span::SPAN_KIND_INTERNAL, "internal"},
      {pb::trace::Span::SPAN_KIND_UNSPECIFIED, std::nullopt},
  };
  for (const auto& [kind, tag] : cases) {
    OneSpan t;
    t.span->set_kind(kind);
    EXPECT_EQ(Str(t.Translate().spans(0).tags(), "span.kind"), tag) << kind;
  }
}

TEST(JaegerTranslate, StatusBecomesTagsAndErrorAddsTheErrorTag) {
  {
    OneSpan t;  // UNSET: no status tags at all
    const Tags tags = t.Translate().spans(0).tags();
    EXPECT_EQ(Find(tags, "otel.status_code"), nullptr);
    EXPECT_EQ(Find(tags, "error"), nullptr);
    EXPECT_EQ(Find(tags, "otel.status_description"), nullptr);
  }
  {
    OneSpan t;
    t.span->mutable_status()->set_code(pb::trace::Status::STATUS_CODE_OK);
    const Tags tags = t.Translate().spans(0).tags();
    EXPECT_EQ(Str(tags, "otel.status_code"), "OK");
    EXPECT_EQ(Find(tags, "error"), nullptr);
  }
  {
    OneSpan t;
    t.span->mutable_status()->set_code(pb::trace::Status::STATUS_CODE_ERROR);
    t.span->mutable_status()->set_message("card declined");
    const Tags tags = t.Translate().spans(0).tags();
    EXPECT_EQ(Str(tags, "otel.status_code"), "ERROR");
    EXPECT_EQ(Str(tags, "otel.status_description"), "card declined");
    const jm::KeyValue* error = Find(tags, "error");
    ASSERT_NE(error, nullptr);
    EXPECT_EQ(error->v_type(), jm::BOOL);
    EXPECT_TRUE(error->v_bool());
  }
}

TEST(JaegerTranslate, TheErrorTagOfAnErrorStatusReplacesAnErrorAttribute) {
  OneSpan t;
  AddStringAttr(t.span->mutable_attributes(), "error", "timeout");
  t.span->mutable_status()->set_code(pb::trace::Status::STATUS_CODE_ERROR);
  auto batch = t.Translate();  // the tags point into it: keep it alive
  auto errors = All(batch.spans(0).tags(), "error");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0]->v_type(), jm::BOOL);
  EXPECT_TRUE(errors[0]->v_bool());
  // Without an ERROR status, the attribute is kept as it is.
  t.span->mutable_status()->set_code(pb::trace::Status::STATUS_CODE_UNSET);
  EXPECT_EQ(Str(t.Translate().spans(0).tags(), "error"), "timeout");
}

TEST(JaegerTranslate, EventsBecomeLogsWithTheNameAsTheEventField) {
  OneSpan t;
  auto* e1 = t.span->add_events();
  e1->set_name("exception");
  e1->set_time_unix_nano(1700000001000000005ULL);
  AddStringAttr(e1->mutable_attributes(), "exception.message", "boom");
  e1->set_dropped_attributes_count(2);
  auto* e2 = t.span->add_events();
  e2->set_name("ignored");
  e2->set_time_unix_nano(1700000001500000000ULL);
  AddStringAttr(e2->mutable_attributes(), "event", "from-attribute");
  auto* e3 = t.span->add_events();  // no name: no event field
  AddStringAttr(e3->mutable_attributes(), "k", "v");

  jm::Batch b = t.Translate();
  const jm::Span& s = b.spans(0);
  ASSERT_EQ(s.logs_size(), 3);
  EXPECT_EQ(s.logs(0).timestamp().seconds(), 1700000001);
  EXPECT_EQ(s.logs(0).timestamp().nanos(), 5);
  ASSERT_EQ(s.logs(0).fields_size(), 3);
  EXPECT_EQ(s.logs(0).fields(0).key(), "event");
  EXPECT_EQ(s.logs(0).fields(0).v_str(), "exception");
  EXPECT_EQ(Str(s.logs(0).fields(), "exception.message"), "boom");
  EXPECT_EQ(Int(s.logs(0).fields(), "otel.dropped_attributes_count"), 2);
  // An `event` attribute wins over the name.
  EXPECT_EQ(Str(s.logs(1).fields(), "event"), "from-attribute");
  EXPECT_EQ(Find(s.logs(2).fields(), "event"), nullptr);
  EXPECT_EQ(Str(s.logs(2).fields(), "k"), "v");
}

TEST(JaegerTranslate, ResourceBecomesTheProcess) {
  OneSpan t;
  auto* attrs = t.rs->mutable_resource()->mutable_attributes();
  AddStringAttr(attrs, "host.name", "node-1");
  auto* pid = attrs->Add();
  pid->set_key("process.pid");
  pid->mutable_value()->set_int_value(4242);
  jm::Batch b = t.Translate();
  EXPECT_EQ(b.process().service_name(), "svc");
  ASSERT_EQ(b.process().tags_size(), 2);  // service.name is the service, not a tag
  EXPECT_EQ(Str(b.process().tags(), "host.name"), "node-1");
  EXPECT_EQ(Int(b.process().tags(), "process.pid"), 4242);
}

TEST(JaegerTranslate, AResourceWithoutServiceNameIsUnknownService) {
  OneSpan t;
  t.rs->mutable_resource()->clear_attributes();
  AddStringAttr(t.rs->mutable_resource()->mutable_attributes(), "host.name", "node-1");
  jm::Batch b = t.Translate();
  EXPECT_EQ(b.process().service_name(), "unknown_service");
  EXPECT_EQ(Str(b.process().tags(), "host.name"), "node-1");
}

TEST(JaegerTranslate, SpansOfLaterResourcesCarryTheirOwnProcessInOneBatch) {
  OneSpan t;
  auto* rs2 = t.req.add_resource_spans();
  AddStringAttr(rs2->mutable_resource()->mutable_attributes(), "service.name", "other");
  AddStringAttr(rs2->mutable_resource()->mutable_attributes(), "zone", "b");
  for (int i = 0; i < 2; ++i) {
    auto* span = rs2->add_scope_spans()->add_spans();
    span->set_trace_id(TraceIdBytes(1));
    span->set_span_id(SpanIdBytes(uint8_t(20 + i)));
  }
  t.req.add_resource_spans();  // no spans: left out
  jm::Batch b = t.Translate();
  ASSERT_EQ(b.spans_size(), 3);
  EXPECT_EQ(b.process().service_name(), "svc");
  EXPECT_FALSE(b.spans(0).has_process());
  for (int i = 1; i < 3; ++i) {
    ASSERT_TRUE(b.spans(i).has_process());
    EXPECT_EQ(b.spans(i).process().service_name(), "other");
    EXPECT_EQ(Str(b.spans(i).process().tags(), "zone"), "b");
  }
}

TEST(JaegerTranslate, AnEmptyRequestHasNoSpans) {
  TracesRequest req;
  req.add_resource_spans()->add_scope_spans();
  jm::Batch b;
  EXPECT_EQ(TracesToJaeger(req, &b), 0u);
  EXPECT_EQ(b.spans_size(), 0);
}

TEST(JaegerTranslate, ScopeNameAndVersionBecomeTags) {
  OneSpan t;
  t.ss->mutable_scope()->set_name("io.opentelemetry.checkout");
  t.ss->mutable_scope()->set_version("1.2.3");
  const Tags tags = t.Translate().spans(0).tags();
  EXPECT_EQ(Str(tags, "otel.scope.name"), "io.opentelemetry.checkout");
  EXPECT_EQ(Str(tags, "otel.scope.version"), "1.2.3");
  OneSpan bare;  // an unnamed scope adds nothing
  EXPECT_EQ(bare.Translate().spans(0).tags_size(), 0);
}

TEST(JaegerTranslate, DroppedCountsAndTraceStateBecomeTagsWhenPresent) {
  OneSpan t;
  t.span->set_dropped_attributes_count(3);
  t.span->set_dropped_events_count(4);
  t.span->set_dropped_links_count(5);
  t.span->set_trace_state("vendor=abc");
  const Tags tags = t.Translate().spans(0).tags();
  EXPECT_EQ(Int(tags, "otel.dropped_attributes_count"), 3);
  EXPECT_EQ(Int(tags, "otel.dropped_events_count"), 4);
  EXPECT_EQ(Int(tags, "otel.dropped_links_count"), 5);
  EXPECT_EQ(Str(tags, "w3c.tracestate"), "vendor=abc");
  OneSpan none;
  const Tags empty = none.Translate().spans(0).tags();
  EXPECT_EQ(Find(empty, "otel.dropped_attributes_count"), nullptr);
  EXPECT_EQ(Find(empty, "otel.dropped_events_count"), nullptr);
  EXPECT_EQ(Find(empty, "otel.dropped_links_count"), nullptr);
  EXPECT_EQ(Find(empty, "w3c.tracestate"), nullptr);
}

TEST(JaegerTranslate, AttributeTypesMapToTagTypesAndArraysAndMapsToJson) {
  OneSpan t;
  auto* attrs = t.span->mutable_attributes();
  auto add = [&](const std::string& key) {
    auto* kv = attrs->Add();
    kv->set_key(key);
    return kv->mutable_value();
  };
  add("s")->set_string_value("text");
  add("b")->set_bool_value(true);
  add("i")->set_int_value(-7);
  add("d")->set_double_value(2.5);
  add("bytes")->set_bytes_value(std::string("\x00\xff\x10", 3));
  auto* arr = add("arr")->mutable_array_value();
  arr->add_values()->set_string_value("a");
  arr->add_values()->set_int_value(1);
  arr->add_values()->set_bool_value(false);
  auto* map = add("map")->mutable_kvlist_value();
  auto* inner = map->add_values();
  inner->set_key("z");
  inner->mutable_value()->set_double_value(0.5);
  auto* inner2 = map->add_values();
  inner2->set_key("a");
  inner2->mutable_value()->mutable_array_value()->add_values()->set_string_value("x");
  add("empty");

  jm::Batch b = t.Translate();
  const Tags& tags = b.spans(0).tags();
  ASSERT_EQ(tags.size(), 8);
  EXPECT_EQ(Str(tags, "s"), "text");
  ASSERT_NE(Find(tags, "b"), nullptr);
  EXPECT_EQ(Find(tags, "b")->v_type(), jm::BOOL);
  EXPECT_TRUE(Find(tags, "b")->v_bool());
  EXPECT_EQ(Int(tags, "i"), -7);
  ASSERT_NE(Find(tags, "d"), nullptr);
  EXPECT_EQ(Find(tags, "d")->v_type(), jm::FLOAT64);
  EXPECT_EQ(Find(tags, "d")->v_float64(), 2.5);
  ASSERT_NE(Find(tags, "bytes"), nullptr);
  EXPECT_EQ(Find(tags, "bytes")->v_type(), jm::BINARY);
  EXPECT_EQ(Find(tags, "bytes")->v_binary(), std::string("\x00\xff\x10", 3));
  EXPECT_EQ(Str(tags, "arr"), R"(["a",1,false])");
  EXPECT_EQ(Str(tags, "map"), R"({"a":["x"],"z":0.5})");
  EXPECT_EQ(Str(tags, "empty"), "");
  // Attributes keep their order: the tags of the span come in the order they were set.
  EXPECT_EQ(tags[0].key(), "s");
  EXPECT_EQ(tags[7].key(), "empty");
}

TEST(JaegerTranslate, TagOrderIsScopeAttributesKindStatus) {
  OneSpan t;
  t.ss->mutable_scope()->set_name("lib");
  AddStringAttr(t.span->mutable_attributes(), "http.route", "/pay");
  t.span->set_kind(pb::trace::Span::SPAN_KIND_SERVER);
  t.span->mutable_status()->set_code(pb::trace::Status::STATUS_CODE_ERROR);
  const Tags tags = t.Translate().spans(0).tags();
  std::vector<std::string> keys;
  for (const auto& kv : tags) keys.push_back(kv.key());
  EXPECT_THAT(keys, ::testing::ElementsAre("otel.scope.name", "http.route", "span.kind",
                                           "otel.status_code", "error"));
}

}  // namespace
}  // namespace otelite

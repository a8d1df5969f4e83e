#include "config/schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/loader.h"

namespace otelite::config {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

struct Limits {
  int64_t size = 10;
  std::string mode = "fast";
  static const config::Schema<Limits>& Schema() {
    static const auto s = config::Schema<Limits>()
        .Field("size", &Limits::size, "a size", InRange(1, 100))
        .Field("mode", &Limits::mode, "a mode", OneOf({"fast", "safe"}));
    return s;
  }
};

struct Settings {
  std::string name = "default-name";
  bool enabled = true;
  int64_t count = 5;
  double ratio = 0.5;
  Duration timeout = 5s;
  std::vector<std::string> tags = {"x"};
  std::map<std::string, std::string> labels;
  Limits limits;
  std::optional<Limits> extra;
  static const config::Schema<Settings>& Schema() {
    static const auto s = config::Schema<Settings>()
        .Field("name", &Settings::name, "the name")
        .Field("enabled", &Settings::enabled, "on or off")
        .Field("count", &Settings::count, "how many", AtLeast(1))
        .Field("ratio", &Settings::ratio, "a ratio")
        .Field("timeout", &Settings::timeout, "how long", NonNegative())
        .Field("tags", &Settings::tags, "tags")
        .Field("labels", &Settings::labels, "labels")
        .Field("limits", &Settings::limits, "nested limits")
        .Field("extra", &Settings::extra, "optional limits")
        .Check([](const Settings& s, const Checker& check) {
          if (s.count > s.limits.size) {
            check.Error("count", "count must not exceed limits.size");
          }
          if (s.name == "forbidden") check.Error("name", "this name is reserved");
        });
    return s;
  }
};

struct Decoded {
  Settings settings;
  Errors errors;
};

Decoded Decode(const std::string& yaml, const std::string& path = "section") {
  Decoded d;
  ConfNode root = ParseYaml(yaml, "config.yaml", d.errors);
  EXPECT_FALSE(d.errors.HasErrors()) << "YAML did not parse";
  Settings::Schema().Decode(root, d.settings, Ctx{d.errors, path});
  return d;
}

std::vector<std::string> Strings(const Errors& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors.all()) out.push_back(e.str());
  return out;
}

TEST(Schema, EmptyMapKeepsDefaults) {
  Decoded d = Decode("{}\n");
  EXPECT_TRUE(d.errors.all().empty());
  const Settings& s = d.settings;
  EXPECT_EQ(s.name, "default-name");
  EXPECT_TRUE(s.enabled);
  EXPECT_EQ(s.count, 5);
  EXPECT_DOUBLE_EQ(s.ratio, 0.5);
  EXPECT_EQ(s.timeout, Duration(5s));
  EXPECT_THAT(s.tags, ElementsAre("x"));
  EXPECT_EQ(s.limits.size, 10);
  EXPECT_FALSE(s.extra.has_value());
}

TEST(Schema, NullNodeKeepsDefaultsAndRunsChecks) {
  Settings s;
  s.count = 50;  // more than limits.size: the check must fire even for an absent section
  Errors errors;
  Settings::Schema().Decode(ConfNode(), s, Ctx{errors, "section"});
  ASSERT_EQ(errors.all().size(), 1u);
  EXPECT_EQ(errors.all()[0].path, "section.count");
}

TEST(Schema, DecodesEveryTypeOntoDefaults) {
  Decoded d = Decode(
      "name: custom\n"
      "enabled: false\n"
      "count: 7\n"
      "ratio: 2.25\n"
      "timeout: 1m30s\n"
      "tags: [a, b]\n"
      "labels:\n"
      "  k1: v1\n"
      "  k2: v2\n"
      "limits:\n"
      "  size: 20\n");
  EXPECT_TRUE(d.errors.all().empty()) << ::testing::PrintToString(Strings(d.errors));
  const Settings& s = d.settings;
  EXPECT_EQ(s.name, "custom");
  EXPECT_FALSE(s.enabled);
  EXPECT_EQ(s.count, 7);
  EXPECT_DOUBLE_EQ(s.ratio, 2.25);
  EXPECT_EQ(s.timeout, Duration(90s));
  EXPECT_THAT(s.tags, ElementsAre("a", "b"));
  EXPECT_EQ(s.labels, (std::map<std::string, std::string>{{"k1", "v1"}, {"k2", "v2"}}));
  EXPECT_EQ(s.limits.size, 20);
  EXPECT_EQ(s.limits.mode, "fast");  // unset nested key keeps its default
}

TEST(Schema, UnknownKeyListsValidKeysAtTheKeyLine) {
  Decoded d = Decode(
      "name: a\n"         // 1
      "cuont: 3\n"        // 2
      "limits:\n"         // 3
      "  sise: 4\n");     // 4
  EXPECT_THAT(Strings(d.errors),
              ElementsAre("config.yaml:2: section.cuont: unknown key \"cuont\" (valid keys: name, "
                          "enabled, count, ratio, timeout, tags, labels, limits, extra)",
                          "config.yaml:4: section.limits.sise: unknown key \"sise\" (valid keys: "
                          "size, mode)"));
  EXPECT_EQ(d.settings.name, "a");  // the valid keys around are still decoded
}

TEST(Schema, UnknownKeyWithAMapValuePointsAtTheKey) {
  Decoded d = Decode(
      "name: a\n"        // 1
      "bogus:\n"         // 2
      "  deep: 1\n");    // 3
  ASSERT_EQ(d.errors.all().size(), 1u);
  EXPECT_EQ(d.errors.all()[0].mark.line, 2);
}

TEST(Schema, WrongTypes) {
  Decoded d = Decode(
      "count: many\n"          // 1
      "name:\n"                // 2
      "  nested: map\n"        // 3
      "enabled: yes\n"         // 4
      "timeout: 5\n"           // 5
      "ratio: fast\n"          // 6
      "tags: notalist\n"       // 7
      "labels: [a]\n"          // 8
      "limits: 3\n");          // 9
  EXPECT_THAT(
      Strings(d.errors),
      ElementsAre(
          "config.yaml:1: section.count: expected an integer, got \"many\"",
          "config.yaml:3: section.name: expected a string, got a map",
          "config.yaml:4: section.enabled: expected a boolean (true or false), got \"yes\"",
          "config.yaml:5: section.timeout: expected a duration such as 200ms, 5s or 1m30s, got "
          "\"5\"",
          "config.yaml:6: section.ratio: expected a number, got \"fast\"",
          "config.yaml:7: section.tags: expected a list, got a scalar",
          "config.yaml:8: section.labels: expected a map, got a list",
          "config.yaml:9: section.limits: expected a map, got a scalar"));
  // Bad values leave the defaults in place.
  EXPECT_EQ(d.settings.count, 5);
  EXPECT_EQ(d.settings.name, "default-name");
  EXPECT_TRUE(d.settings.enabled);
  EXPECT_EQ(d.settings.timeout, Duration(5s));
}

TEST(Schema, IntegerEdgeCases) {
  for (const char* bad : {"1.5", "12abc", "\"\"", "99999999999999999999"}) {
    Decoded d = Decode(std::string("count: ") + bad + "\n");
    EXPECT_EQ(d.errors.all().size(), 1u) << bad;
    EXPECT_EQ(d.settings.count, 5) << bad;
  }
  Decoded ok = Decode("count: \"7\"\n");  // a quoted number is still a number
  EXPECT_TRUE(ok.errors.all().empty());
  EXPECT_EQ(ok.settings.count, 7);
}

TEST(Schema, ListItemOfTheWrongTypeNamesItsIndex) {
  Decoded d = Decode(
      "tags:\n"            // 1
      "  - ok\n"           // 2
      "  - {a: b}\n");     // 3
  EXPECT_THAT(Strings(d.errors),
              ElementsAre("config.yaml:3: section.tags[1]: expected a string, got a map"));
  EXPECT_THAT(d.settings.tags, ElementsAre("x"));
}

TEST(Schema, ConstraintMessages) {
  Decoded d = Decode(
      "count: 0\n"            // 1
      "timeout: -1s\n"        // 2
      "limits:\n"             // 3
      "  size: 101\n"         // 4
      "  mode: turbo\n");     // 5
  EXPECT_THAT(Strings(d.errors),
              ElementsAre("config.yaml:1: section.count: must be at least 1, got 0",
                          "config.yaml:2: section.timeout: must not be negative",
                          "config.yaml:4: section.limits.size: must be between 1 and 100, got 101",
                          "config.yaml:5: section.limits.mode: \"turbo\" is not one of: fast, safe"));
  EXPECT_EQ(d.settings.count, 5);
  EXPECT_EQ(d.settings.limits.size, 10);
  EXPECT_EQ(d.settings.limits.mode, "fast");
}

TEST(Schema, ConstraintFunctionsDirectly) {
  EXPECT_EQ(OneOf({"a", "b"})("a"), "");
  EXPECT_EQ(OneOf({"a", "b"})("c"), "\"c\" is not one of: a, b");
  EXPECT_EQ(AtLeast(0)(0), "");
  EXPECT_EQ(AtLeast(0)(-1), "must be at least 0, got -1");
  EXPECT_EQ(InRange(1, 3)(1), "");
  EXPECT_EQ(InRange(1, 3)(3), "");
  EXPECT_EQ(InRange(1, 3)(4), "must be between 1 and 3, got 4");
  EXPECT_EQ(InRange(1, 3)(0), "must be between 1 and 3, got 0");
  EXPECT_EQ(HostPort()("localhost:4317"), "");
  EXPECT_EQ(HostPort()("0.0.0.0:0"), "");
  EXPECT_EQ(HostPort()(":65535"), "");
  EXPECT_EQ(HostPort()("[::1]:4317"), "");
  EXPECT_EQ(HostPort()("[::]:4317"), "");
  EXPECT_EQ(HostPort()("localhost"), "\"localhost\" is not host:port");
  EXPECT_EQ(HostPort()("localhost:65536"),
            "\"localhost:65536\": the port must be a number from 0 to 65535");
  EXPECT_EQ(HostPort()("localhost:-1"), "\"localhost:-1\": the port must be a number from 0 to 65535");
  EXPECT_EQ(HostPort()("localhost:43x"), "\"localhost:43x\": the port must be a number from 0 to 65535");
  EXPECT_EQ(HostPort()("h:"), "\"h:\": the port must be a number from 0 to 65535");
  EXPECT_EQ(HostPort()("::1:4317"), "\"::1:4317\": write an IPv6 host in brackets, as [::1]:4317");
  EXPECT_EQ(NonNegative()(Duration(0)), "");
  EXPECT_EQ(NonNegative()(Duration(-1)), "must not be negative");
}

TEST(Schema, OptionalSectionAbsentIsOffPresentButEmptyIsOnWithDefaults) {
  Decoded absent = Decode("name: a\n");
  EXPECT_FALSE(absent.settings.extra.has_value());

  Decoded empty = Decode("extra:\n");
  EXPECT_TRUE(empty.errors.all().empty());
  ASSERT_TRUE(empty.settings.extra.has_value());
  EXPECT_EQ(empty.settings.extra->size, 10);
  EXPECT_EQ(empty.settings.extra->mode, "fast");

  Decoded braces = Decode("extra: {}\n");
  ASSERT_TRUE(braces.settings.extra.has_value());

  Decoded set = Decode("extra:\n  mode: safe\n");
  ASSERT_TRUE(set.settings.extra.has_value());
  EXPECT_EQ(set.settings.extra->mode, "safe");
  EXPECT_EQ(set.settings.extra->size, 10);

  Decoded bad = Decode("extra:\n  size: 0\n");
  EXPECT_THAT(Strings(bad.errors),
              ElementsAre("config.yaml:2: section.extra.size: must be between 1 and 100, got 0"));
}

TEST(Schema, CheckReportsCrossFieldErrorsAtTheKeyOrTheSection) {
  Decoded d = Decode(
      "name: forbidden\n"   // 1
      "limits:\n"           // 2
      "  size: 3\n"         // 3
      "count: 4\n");        // 4
  EXPECT_THAT(Strings(d.errors),
              ElementsAre("config.yaml:4: section.count: count must not exceed limits.size",
                          "config.yaml:1: section.name: this name is reserved"));

  // The key is not written: the error points at the section.
  Decoded section = Decode(
      "enabled: true\n"     // 1
      "limits:\n"           // 2
      "  size: 2\n");       // 3   default count 5 > 2
  ASSERT_EQ(section.errors.all().size(), 1u);
  EXPECT_EQ(section.errors.all()[0].path, "section.count");
  EXPECT_EQ(section.errors.all()[0].mark.line, 1);
}

TEST(Schema, NotAMap) {
  Errors errors;
  ConfNode list = ConfNode::Sequence(Mark{std::make_shared<const std::string>("f.yaml"), 7, 3});
  Settings s;
  Settings::Schema().Decode(list, s, Ctx{errors, "x"});
  ASSERT_EQ(errors.all().size(), 1u);
  EXPECT_EQ(errors.all()[0].str(), "f.yaml:7: x: expected a map, got a list");
}

TEST(Schema, DescribeListsDottedKeysWithDefaults) {
  std::vector<KeyDoc> docs = Settings::Schema().Describe();
  std::vector<std::pair<std::string, std::string>> rows;
  for (const auto& d : docs) rows.emplace_back(d.key, d.default_value);
  EXPECT_THAT(rows, ElementsAre(std::pair<std::string, std::string>{"name", "default-name"},
                                std::pair<std::string, std::string>{"enabled", "true"},
                                std::pair<std::string, std::string>{"count", "5"},
                                std::pair<std::string, std::string>{"ratio", "0.5"},
                                std::pair<std::string, std::string>{"timeout", "5s"},
                                std::pair<std::string, std::string>{"tags", "[x]"},
                                std::pair<std::string, std::string>{"labels", "{}"},
                                std::pair<std::string, std::string>{"limits.size", "10"},
                                std::pair<std::string, std::string>{"limits.mode", "fast"},
                                std::pair<std::string, std::string>{"extra", "(off)"},
                                std::pair<std::string, std::string>{"extra.size", "10"},
                                std::pair<std::string, std::string>{"extra.mode", "fast"}));
  EXPECT_EQ(docs[0].description, "the name");
  EXPECT_EQ(docs[7].description, "a size");
  EXPECT_EQ(docs[9].description, "optional limits");
}

TEST(Schema, DescribeUsesGivenDefaults) {
  Settings defaults;
  defaults.name = "";
  defaults.count = 9;
  std::vector<KeyDoc> docs = Settings::Schema().Describe(defaults);
  EXPECT_EQ(docs[0].default_value, "\"\"");
  EXPECT_EQ(docs[2].default_value, "9");
}

TEST(ErrorFormat, FileLinePathMessage) {
  auto file = std::make_shared<const std::string>("config.yaml");
  Error e{Mark{file, 14, 3}, "exporters.file/x.path", "path must be non-empty", false};
  EXPECT_EQ(e.str(), "config.yaml:14: exporters.file/x.path: path must be non-empty");
  e.warning = true;
  EXPECT_EQ(e.str(), "config.yaml:14: exporters.file/x.path: warning: path must be non-empty");
  Error no_path{Mark{file, 2, 1}, "", "YAML syntax error: x", false};
  EXPECT_EQ(no_path.str(), "config.yaml:2: YAML syntax error: x");
  Error no_line{Mark{file, 0, 0}, "a", "m", false};
  EXPECT_EQ(no_line.str(), "config.yaml: a: m");
  Error no_file{Mark{}, "a", "m", false};
  EXPECT_EQ(no_file.str(), "<config>: a: m");
}

TEST(ErrorFormat, WarningsAreNotErrors) {
  Errors errors;
  errors.Warn(Mark{}, "a", "careful");
  EXPECT_FALSE(errors.HasErrors());
  errors.Add(Mark{}, "b", "wrong");
  EXPECT_TRUE(errors.HasErrors());
  EXPECT_EQ(errors.all().size(), 2u);
}

TEST(JoinPath, Joins) {
  EXPECT_EQ(JoinPath("", "receivers"), "receivers");
  EXPECT_EQ(JoinPath("exporters", "file/x"), "exporters.file/x");
}

}  // namespace
}  // namespace otelite::config

#include "config/loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "../test_util.h"

namespace otelite::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using otelite::testing::TempDir;
using otelite::testing::WriteFile;

// Sets an environment variable for the scope of a test and restores the previous state.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = std::string(old);
    if (value) ::setenv(name_.c_str(), value, 1);
    else ::unsetenv(name_.c_str());
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_.c_str(), old_->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

std::string AllErrors(const Errors& errors) {
  std::string out;
  for (const auto& e : errors.all()) out += e.str() + "\n";
  return out;
}

// Walks a dotted path of map keys.
const ConfNode* At(const ConfNode& root, std::initializer_list<std::string_view> keys) {
  const ConfNode* n = &root;
  for (auto k : keys) {
    if (n == nullptr) return nullptr;
    n = n->Find(k);
  }
  return n;
}

constexpr char kNested[] =
    "receivers:\n"                         // 1
    "  otlp:\n"                            // 2
    "    protocols:\n"                     // 3
    "      grpc:\n"                        // 4
    "        endpoint: localhost:4317\n"   // 5
    "      http:\n"                        // 6
    "exporters:\n"                         // 7
    "  file:\n"                            // 8
    "    path: \"/tmp/out.json\"\n"        // 9
    "    tags:\n"                          // 10
    "      - a\n"                          // 11
    "      - b\n";                         // 12

TEST(ParseYaml, MarksNestedNodesWithFileAndOneBasedLine) {
  Errors errors;
  ConfNode root = ParseYaml(kNested, "config.yaml", errors);
  ASSERT_FALSE(errors.HasErrors()) << AllErrors(errors);
  ASSERT_TRUE(root.IsMap());

  const ConfNode* endpoint = At(root, {"receivers", "otlp", "protocols", "grpc", "endpoint"});
  ASSERT_NE(endpoint, nullptr);
  ASSERT_TRUE(endpoint->IsScalar());
  EXPECT_EQ(endpoint->scalar(), "localhost:4317");
  ASSERT_TRUE(endpoint->mark().file);
  EXPECT_EQ(*endpoint->mark().file, "config.yaml");
  EXPECT_EQ(endpoint->mark().line, 5);
  EXPECT_EQ(endpoint->mark().column, 19);
  EXPECT_EQ(endpoint->key_mark().line, 5);
  EXPECT_EQ(endpoint->key_mark().column, 9);
  EXPECT_EQ(endpoint->mark().str(), "config.yaml:5");

  // A map value starts on the line of its first key; its key mark is the key's own line.
  const ConfNode* receivers = root.Find("receivers");
  ASSERT_NE(receivers, nullptr);
  EXPECT_EQ(receivers->key_mark().line, 1);
  EXPECT_EQ(receivers->mark().line, 2);
  const ConfNode* grpc = At(root, {"receivers", "otlp", "protocols", "grpc"});
  EXPECT_EQ(grpc->key_mark().line, 4);

  // A key without a value is null and points at its key.
  const ConfNode* http = At(root, {"receivers", "otlp", "protocols", "http"});
  ASSERT_NE(http, nullptr);
  EXPECT_TRUE(http->IsNull());
  EXPECT_EQ(http->mark().line, 6);
  EXPECT_EQ(http->key_mark().line, 6);

  const ConfNode* path = At(root, {"exporters", "file", "path"});
  ASSERT_NE(path, nullptr);
  EXPECT_EQ(path->scalar(), "/tmp/out.json");
  EXPECT_TRUE(path->quoted());
  EXPECT_FALSE(endpoint->quoted());
  EXPECT_EQ(path->mark().line, 9);

  const ConfNode* tags = At(root, {"exporters", "file", "tags"});
  ASSERT_NE(tags, nullptr);
  ASSERT_TRUE(tags->IsSequence());
  ASSERT_EQ(tags->items().size(), 2u);
  EXPECT_EQ(tags->key_mark().line, 10);
  EXPECT_EQ(tags->items()[0].scalar(), "a");
  EXPECT_EQ(tags->items()[0].mark().line, 11);
  EXPECT_EQ(tags->items()[1].mark().line, 12);
}

TEST(ParseYaml, KeepsKeyOrder) {
  Errors errors;
  ConfNode root = ParseYaml("zeta: 1\nalpha: 2\nmid: 3\n", "c.yaml", errors);
  ASSERT_EQ(root.entries().size(), 3u);
  EXPECT_EQ(root.entries()[0].first, "zeta");
  EXPECT_EQ(root.entries()[1].first, "alpha");
  EXPECT_EQ(root.entries()[2].first, "mid");
}

TEST(ParseYaml, EmptyDocumentIsAnEmptyMap) {
  Errors errors;
  ConfNode root = ParseYaml("# only a comment\n", "empty.yaml", errors);
  EXPECT_TRUE(errors.all().empty()) << AllErrors(errors);
  EXPECT_TRUE(root.IsMap());
  EXPECT_TRUE(root.entries().empty());
}

TEST(ParseYaml, SyntaxErrorIsReportedWithItsLine) {
  Errors errors;
  ConfNode root = ParseYaml(
      "receivers:\n"          // 1
      "  otlp:\n"             // 2
      "    protocols: [grpc\n"  // 3  (the flow sequence is never closed)
      "exporters:\n",         // 4
      "broken.yaml", errors);
  EXPECT_TRUE(root.IsNull());
  ASSERT_TRUE(errors.HasErrors());
  ASSERT_EQ(errors.all().size(), 1u);
  const Error& e = errors.all()[0];
  EXPECT_THAT(e.message, StartsWith("YAML syntax error: "));
  ASSERT_TRUE(e.mark.file);
  EXPECT_EQ(*e.mark.file, "broken.yaml");
  EXPECT_GE(e.mark.line, 3);
  EXPECT_LE(e.mark.line, 5);
  EXPECT_THAT(e.str(), StartsWith("broken.yaml:" + std::to_string(e.mark.line) +
                                  ": YAML syntax error: "));
}

TEST(ParseYaml, SyntaxErrorOnASpecificLine) {
  Errors errors;
  ParseYaml("a: 1\n"     // 1
            "b: 2\n"     // 2
            "c: d: e\n"  // 3 (a map value where a scalar was expected)
            "f: 4\n",    // 4
            "q.yaml", errors);
  ASSERT_TRUE(errors.HasErrors());
  ASSERT_EQ(errors.all().size(), 1u);
  EXPECT_EQ(errors.all()[0].str(), "q.yaml:3: YAML syntax error: illegal map value");
}

TEST(ParseYaml, TopLevelMustBeAMap) {
  Errors errors;
  ConfNode root = ParseYaml("- a\n- b\n", "list.yaml", errors);
  EXPECT_TRUE(root.IsNull());
  ASSERT_TRUE(errors.HasErrors());
  EXPECT_EQ(errors.all()[0].str(), "list.yaml:1: the configuration must be a map, not a list");
}

TEST(Merge, MapsMergeScalarsAndListsAreReplacedLaterWins) {
  Errors errors;
  ConfNode base = ParseYaml(
      "exporters:\n"
      "  file:\n"
      "    path: a.json\n"
      "    format: json\n"
      "  debug:\n"
      "    verbosity: basic\n"
      "list: [1, 2, 3]\n"
      "scalar: old\n"
      "replaced_map:\n"
      "  k: v\n",
      "base.yaml", errors);
  ConfNode overlay = ParseYaml(
      "exporters:\n"
      "  file:\n"
      "    path: b.json\n"
      "    append: true\n"
      "list: [9]\n"
      "scalar: new\n"
      "replaced_map: now-a-scalar\n"
      "added: yes\n",
      "overlay.yaml", errors);
  ASSERT_FALSE(errors.HasErrors()) << AllErrors(errors);
  Merge(base, overlay);

  EXPECT_EQ(At(base, {"exporters", "file", "path"})->scalar(), "b.json");
  EXPECT_EQ(*At(base, {"exporters", "file", "path"})->mark().file, "overlay.yaml");
  EXPECT_EQ(At(base, {"exporters", "file", "format"})->scalar(), "json");
  EXPECT_EQ(*At(base, {"exporters", "file", "format"})->mark().file, "base.yaml");
  EXPECT_EQ(At(base, {"exporters", "file", "append"})->scalar(), "true");
  EXPECT_EQ(At(base, {"exporters", "debug", "verbosity"})->scalar(), "basic");

  const ConfNode* list = base.Find("list");
  ASSERT_TRUE(list->IsSequence());
  ASSERT_EQ(list->items().size(), 1u);
  EXPECT_EQ(list->items()[0].scalar(), "9");

  EXPECT_EQ(base.Find("scalar")->scalar(), "new");
  ASSERT_TRUE(base.Find("replaced_map")->IsScalar());
  EXPECT_EQ(base.Find("replaced_map")->scalar(), "now-a-scalar");
  ASSERT_NE(base.Find("added"), nullptr);
  EXPECT_EQ(base.Find("added")->scalar(), "yes");
}

TEST(Merge, ScalarReplacedByMap) {
  Errors errors;
  ConfNode base = ParseYaml("a: 1\n", "x", errors);
  ConfNode overlay = ParseYaml("a:\n  b: 2\n", "y", errors);
  Merge(base, overlay);
  ASSERT_TRUE(base.Find("a")->IsMap());
  EXPECT_EQ(At(base, {"a", "b"})->scalar(), "2");
}

class ExpandEnvTest : public ::testing::Test {
 protected:
  ScopedEnv a_{"OTELITE_UT_A", "alpha"};
  ScopedEnv b_{"OTELITE_UT_B", "4317"};
  ScopedEnv empty_{"OTELITE_UT_EMPTY", ""};
  ScopedEnv unset_{"OTELITE_UT_UNSET", nullptr};

  // Expands the single key `v` of a one-line document and returns its value.
  std::string Expand(const std::string& value, Errors& errors) {
    ConfNode root = ParseYaml("v: " + value + "\n", "env.yaml", errors);
    ExpandEnv(root, "", errors);
    return root.Find("v")->scalar();
  }
};

TEST_F(ExpandEnvTest, EnvProviderWithAndWithoutDefault) {
  Errors errors;
  EXPECT_EQ(Expand("${env:OTELITE_UT_A}", errors), "alpha");
  EXPECT_EQ(Expand("localhost:${env:OTELITE_UT_B}", errors), "localhost:4317");
  EXPECT_EQ(Expand("${env:OTELITE_UT_A:-fallback}", errors), "alpha");
  EXPECT_EQ(Expand("${env:OTELITE_UT_UNSET:-fallback}", errors), "fallback");
  EXPECT_EQ(Expand("${env:OTELITE_UT_UNSET:-}", errors), "");
  // Like the shell's :-, an empty value takes the default too.
  EXPECT_EQ(Expand("${env:OTELITE_UT_EMPTY:-fallback}", errors), "fallback");
  EXPECT_EQ(Expand("\"${env:OTELITE_UT_A}-${env:OTELITE_UT_B}\"", errors), "alpha-4317");
  EXPECT_TRUE(errors.all().empty()) << AllErrors(errors);
}

TEST_F(ExpandEnvTest, BareBraces) {
  Errors errors;
  EXPECT_EQ(Expand("${OTELITE_UT_A}", errors), "alpha");
  EXPECT_EQ(Expand("x${OTELITE_UT_A}y", errors), "xalphay");
  EXPECT_EQ(Expand("${OTELITE_UT_UNSET:-dflt}", errors), "dflt");
  EXPECT_TRUE(errors.all().empty()) << AllErrors(errors);
}

TEST_F(ExpandEnvTest, DoubleDollarIsALiteralDollar) {
  Errors errors;
  EXPECT_EQ(Expand("$$", errors), "$");
  EXPECT_EQ(Expand("price-$$5", errors), "price-$5");
  EXPECT_EQ(Expand("$${env:OTELITE_UT_A}", errors), "${env:OTELITE_UT_A}");
  EXPECT_EQ(Expand("$$$${OTELITE_UT_A}", errors), "$${OTELITE_UT_A}");
  // A lone $ not followed by { stays.
  EXPECT_EQ(Expand("a$b", errors), "a$b");
  EXPECT_TRUE(errors.all().empty()) << AllErrors(errors);
}

TEST_F(ExpandEnvTest, UnsetVariableBecomesEmptyWithAWarning) {
  Errors errors;
  ConfNode root = ParseYaml(
      "exporters:\n"
      "  file:\n"
      "    path: /data/${env:OTELITE_UT_UNSET}/x.json\n",
      "config.yaml", errors);
  ExpandEnv(root, "", errors);
  EXPECT_EQ(At(root, {"exporters", "file", "path"})->scalar(), "/data//x.json");
  EXPECT_FALSE(errors.HasErrors());
  ASSERT_EQ(errors.all().size(), 1u);
  EXPECT_TRUE(errors.all()[0].warning);
  EXPECT_EQ(errors.all()[0].str(),
            "config.yaml:3: exporters.file.path: warning: environment variable OTELITE_UT_UNSET "
            "is not set; using \"\"");
}

TEST_F(ExpandEnvTest, UnsupportedProviderIsAnError) {
  Errors errors;
  ConfNode root = ParseYaml(
      "a:\n"
      "  b: ${file:/etc/secret}\n",
      "config.yaml", errors);
  ExpandEnv(root, "", errors);
  ASSERT_TRUE(errors.HasErrors());
  ASSERT_EQ(errors.all().size(), 1u);
  EXPECT_EQ(errors.all()[0].str(),
            "config.yaml:2: a.b: unsupported config provider in \"${file:/etc/secret}\" "
            "(supported: env)");
  // The value is left as written.
  EXPECT_EQ(At(root, {"a", "b"})->scalar(), "${file:/etc/secret}");
}

TEST_F(ExpandEnvTest, UnsupportedProviderWithADefaultIsAnErrorToo) {
  Errors errors;
  std::string got = Expand("${file:/etc/secret:-fallback}", errors);
  ASSERT_TRUE(errors.HasErrors()) << "expanded to \"" << got << "\"";
  EXPECT_THAT(errors.all()[0].message, HasSubstr("unsupported config provider"));
  EXPECT_EQ(got, "${file:/etc/secret:-fallback}");
}

TEST_F(ExpandEnvTest, UnterminatedReference) {
  Errors errors;
  EXPECT_EQ(Expand("\"${env:OTELITE_UT_A\"", errors), "${env:OTELITE_UT_A");
  ASSERT_TRUE(errors.HasErrors());
  EXPECT_THAT(errors.all()[0].message, HasSubstr("unterminated"));
}

TEST_F(ExpandEnvTest, ExpandsInsideListsWithIndexedPaths) {
  Errors errors;
  ConfNode root = ParseYaml(
      "l:\n"
      "  - ${env:OTELITE_UT_A}\n"
      "  - ${env:OTELITE_UT_UNSET}\n",
      "config.yaml", errors);
  ExpandEnv(root, "", errors);
  EXPECT_EQ(root.Find("l")->items()[0].scalar(), "alpha");
  EXPECT_EQ(root.Find("l")->items()[1].scalar(), "");
  ASSERT_EQ(errors.all().size(), 1u);
  EXPECT_EQ(errors.all()[0].path, "l[1]");
  EXPECT_EQ(errors.all()[0].mark.line, 3);
}

TEST(LoadConfigSource, ReadsAPlainPathAndAFileScheme) {
  TempDir dir;
  std::string path = dir.file("c.yaml");
  WriteFile(path, "service:\n  pipelines: {}\n");
  for (const std::string& source : {path, "file:" + path}) {
    Errors errors;
    ConfNode root = LoadConfigSource(source, errors);
    ASSERT_FALSE(errors.HasErrors()) << source << "\n" << AllErrors(errors);
    ASSERT_TRUE(root.IsMap());
    const ConfNode* pipelines = At(root, {"service", "pipelines"});
    ASSERT_NE(pipelines, nullptr);
    EXPECT_EQ(*pipelines->mark().file, path);
    EXPECT_EQ(pipelines->mark().line, 2);
  }
}

TEST(LoadConfigSource, RejectsOtherSchemes) {
  for (const std::string scheme : {"env", "yaml", "http", "https"}) {
    Errors errors;
    std::string source = scheme + ":something";
    ConfNode root = LoadConfigSource(source, errors);
    EXPECT_TRUE(root.IsNull());
    ASSERT_EQ(errors.all().size(), 1u);
    EXPECT_EQ(errors.all()[0].str(), source + ": unsupported config source scheme \"" + scheme +
                                         "\" (supported: file)");
  }
}

TEST(ParseYaml, DuplicateKeysAreAnErrorAtTheSecondKey) {
  Errors errors;
  ParseYaml(
      "receivers:\n"             // 1
      "  otlp:\n"                // 2
      "    protocols: {grpc: }\n"  // 3
      "  otlp:\n"                // 4
      "    protocols: {http: }\n",  // 5
      "dup.yaml", errors);
  ASSERT_EQ(errors.all().size(), 1u);
  EXPECT_EQ(errors.all()[0].str(),
            "dup.yaml:4: receivers.otlp: duplicate key (first defined at line 2)");
}

TEST(LoadConfigSource, DirectoryIsNamedAsSuch) {
  TempDir dir;
  Errors errors;
  ConfNode root = LoadConfigSource(dir.path().string(), errors);
  EXPECT_TRUE(root.IsNull());
  ASSERT_EQ(errors.all().size(), 1u);
  EXPECT_EQ(errors.all()[0].str(), dir.path().string() + ": is a directory, not a configuration file");
}

TEST(LoadConfigSource, MissingFile) {
  TempDir dir;
  Errors errors;
  std::string path = dir.file("absent.yaml");
  ConfNode root = LoadConfigSource("file:" + path, errors);
  EXPECT_TRUE(root.IsNull());
  ASSERT_EQ(errors.all().size(), 1u);
  EXPECT_EQ(errors.all()[0].str(), path + ": cannot read the file");
}

TEST(LoadAll, LaterFileOverridesOneValueAndAddsAnother) {
  TempDir dir;
  ScopedEnv unset{"OTELITE_UT_OVERRIDDEN", nullptr};
  std::string first = dir.file("first.yaml"), second = dir.file("second.yaml");
  WriteFile(first,
            "exporters:\n"
            "  file:\n"
            "    path: ${env:OTELITE_UT_OVERRIDDEN}\n"
            "    format: proto\n");
  WriteFile(second,
            "exporters:\n"
            "  file:\n"
            "    path: second.json\n"
            "  debug:\n"
            "    verbosity: detailed\n");
  Errors errors;
  ConfNode root = LoadAll({first, "file:" + second}, errors);
  // The unset variable was overridden before expansion: no warning.
  EXPECT_TRUE(errors.all().empty()) << AllErrors(errors);
  const ConfNode* path = At(root, {"exporters", "file", "path"});
  ASSERT_NE(path, nullptr);
  EXPECT_EQ(path->scalar(), "second.json");
  EXPECT_EQ(*path->mark().file, second);
  EXPECT_EQ(path->mark().line, 3);
  EXPECT_EQ(At(root, {"exporters", "file", "format"})->scalar(), "proto");
  EXPECT_EQ(*At(root, {"exporters", "file", "format"})->mark().file, first);
  EXPECT_EQ(At(root, {"exporters", "debug", "verbosity"})->scalar(), "detailed");
}

TEST(LoadAll, ExpandsAfterMerging) {
  TempDir dir;
  ScopedEnv v{"OTELITE_UT_LOADALL", "from-env"};
  std::string first = dir.file("a.yaml"), second = dir.file("b.yaml");
  WriteFile(first, "x: 1\n");
  WriteFile(second, "y: ${env:OTELITE_UT_LOADALL}\n");
  Errors errors;
  ConfNode root = LoadAll({first, second}, errors);
  EXPECT_TRUE(errors.all().empty()) << AllErrors(errors);
  EXPECT_EQ(root.Find("x")->scalar(), "1");
  EXPECT_EQ(root.Find("y")->scalar(), "from-env");
}

TEST(LoadAll, ReportsEveryBadSource) {
  TempDir dir;
  Errors errors;
  LoadAll({dir.file("missing.yaml"), "env:CONFIG"}, errors);
  ASSERT_EQ(errors.all().size(), 2u) << AllErrors(errors);
  EXPECT_THAT(errors.all()[0].message, HasSubstr("cannot read"));
  EXPECT_THAT(errors.all()[1].message, HasSubstr("unsupported config source scheme"));
}

TEST(LoadAll, NoSourcesLoadsTheEmbeddedDefault) {
  ScopedEnv unset{"OTELITE_FILE_PATH", nullptr};
  Errors errors;
  ConfNode root = LoadAll({}, errors);
  EXPECT_TRUE(errors.all().empty()) << AllErrors(errors);
  ASSERT_TRUE(root.IsMap());
  const ConfNode* grpc = At(root, {"receivers", "otlp", "protocols", "grpc", "endpoint"});
  ASSERT_NE(grpc, nullptr);
  EXPECT_EQ(grpc->scalar(), "localhost:4317");
  EXPECT_EQ(*grpc->mark().file, std::string(kDefaultConfigName));
  EXPECT_GT(grpc->mark().line, 0);
  // The file path default comes from ${env:OTELITE_FILE_PATH:-...}.
  EXPECT_EQ(At(root, {"exporters", "file", "path"})->scalar(), "otelite-data.jsonl");
  ASSERT_NE(At(root, {"service", "pipelines", "traces"}), nullptr);
}

TEST(LoadAll, DefaultHonoursTheFilePathVariable) {
  ScopedEnv path{"OTELITE_FILE_PATH", "/var/lib/otelite/data.jsonl"};
  Errors errors;
  ConfNode root = LoadAll({}, errors);
  EXPECT_TRUE(errors.all().empty()) << AllErrors(errors);
  EXPECT_EQ(At(root, {"exporters", "file", "path"})->scalar(), "/var/lib/otelite/data.jsonl");
}

}  // namespace
}  // namespace otelite::config

// Calico's selector language: every operator, precedence, absent labels,
// exact errors, a print/parse round trip over random trees, and Kubernetes
// label selectors agreeing with the model's own matcher.
#include "core/policy/selector.h"

#include <gtest/gtest.h>

#include "core/env/random.h"

namespace edgebed::policy {
namespace {

bool Match(const std::string& text, const Labels& labels) {
  StatusOr<Selector> s = Selector::Parse(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status().ToString();
  return s.ok() && s->Matches(labels);
}

const Labels kDb = {{"role", "db"}, {"floor", "3"}, {"zone", "north-wing"}};

TEST(Selector, EveryOperator) {
  EXPECT_TRUE(Match("all()", {}));
  EXPECT_TRUE(Match("", kDb));
  EXPECT_TRUE(Match("   ", {}));
  EXPECT_TRUE(Match("role == 'db'", kDb));
  EXPECT_TRUE(Match("role == \"db\"", kDb));
  EXPECT_FALSE(Match("role == 'web'", kDb));
  EXPECT_FALSE(Match("tier == 'db'", kDb));
  EXPECT_TRUE(Match("role != 'web'", kDb));
  EXPECT_FALSE(Match("role != 'db'", kDb));
  EXPECT_TRUE(Match("tier != 'db'", kDb));  // absent: != holds, as in Calico
  EXPECT_TRUE(Match("floor in {'1', '3'}", kDb));
  EXPECT_FALSE(Match("floor in {'1', '2'}", kDb));
  EXPECT_FALSE(Match("floor in {}", kDb));
  EXPECT_FALSE(Match("tier in {'a'}", kDb));
  EXPECT_TRUE(Match("floor not in {'1', '2'}", kDb));
  EXPECT_FALSE(Match("floor not in {'3'}", kDb));
  EXPECT_TRUE(Match("tier not in {'a'}", kDb));  // absent: not in holds
  EXPECT_TRUE(Match("has(role)", kDb));
  EXPECT_FALSE(Match("has(tier)", kDb));
  EXPECT_TRUE(Match("!has(tier)", kDb));
  EXPECT_TRUE(Match("zone contains 'wing'", kDb));
  EXPECT_TRUE(Match("zone starts with 'north'", kDb));
  EXPECT_TRUE(Match("zone ends with 'wing'", kDb));
  EXPECT_FALSE(Match("zone ends with 'north'", kDb));
  EXPECT_FALSE(Match("tier contains ''", kDb));  // absent: the string tests fail
  EXPECT_TRUE(Match("global()", kDb));
}

TEST(Selector, PrecedenceAndParentheses) {
  // && binds tighter than ||.
  EXPECT_TRUE(Match("role == 'web' && floor == '9' || role == 'db'", kDb));
  EXPECT_FALSE(Match("role == 'web' && (floor == '9' || role == 'db')", kDb));
  EXPECT_TRUE(Match("!(role == 'web') && !!has(floor)", kDb));
  EXPECT_FALSE(Match("!(role == 'db' || has(tier))", kDb));
  EXPECT_TRUE(Match("((((role == 'db'))))", kDb));
}

TEST(Selector, KeysMayLookLikeKeywordsAndHavePrefixes) {
  const Labels labels = {{"all", "x"}, {"in", "y"}, {"projectcalico.org/namespace", "floor-1"},
                         {"app.kubernetes.io/name", "broker"}};
  EXPECT_TRUE(Match("all == 'x'", labels));
  EXPECT_TRUE(Match("in == 'y'", labels));
  EXPECT_TRUE(Match("projectcalico.org/namespace == 'floor-1'", labels));
  EXPECT_TRUE(Match("has(app.kubernetes.io/name)", labels));
}

TEST(Selector, KnowsItsKeysAndWhetherItIsAllOrGlobal) {
  const Selector s = *Selector::Parse("role == 'db' && (has(floor) || zone in {'a'}) && role != 'x'");
  EXPECT_EQ(s.keys(), (std::vector<std::string>{"floor", "role", "zone"}));
  EXPECT_FALSE(s.IsAll());
  EXPECT_TRUE(Selector().IsAll());
  EXPECT_TRUE(Selector::Parse("")->IsAll());
  EXPECT_TRUE(Selector::Parse("global()")->HasGlobal());
  EXPECT_FALSE(s.HasGlobal());
}

TEST(Selector, CanonicalText) {
  EXPECT_EQ(Selector::Parse("  role=='db'&&floor in {'3','1','3'}")->ToString(),
            "role == \"db\" && floor in {\"1\", \"3\"}");
  EXPECT_EQ(Selector::Parse("a == 'x' || b == 'y' && c == 'z'")->ToString(),
            "a == \"x\" || (b == \"y\" && c == \"z\")");
  EXPECT_EQ(Selector::Parse("!(a == 'x' && has(b))")->ToString(), "!(a == \"x\" && has(b))");
  EXPECT_EQ(Selector::Parse("a == 'say \"hi\"'")->ToString(), "a == 'say \"hi\"'");
  EXPECT_EQ(*Selector::Parse("has(a) && has(b)"), *Selector::Parse("(has(a)) && has(b)"));
}

TEST(Selector, BadSelectorsSayWhereAndWhat) {
  const std::pair<const char*, const char*> cases[] = {
      {"role == db", "\"role == db\": at character 9: expected a quoted string ('value' or \"value\")"},
      {"role == 'db", "\"role == 'db\": at character 9: the string is not closed; add the closing '"},
      {"role = 'db'", "\"role = 'db'\": at character 6: expected '==' (a single '=' is not an operator)"},
      {"has(role", "\"has(role\": at character 9: expected ')' after has(role"},
      {"role in {'a' 'b'}", "\"role in {'a' 'b'}\": at character 14: expected ',' or '}' in the set of values"},
      {"role in 'a'", "\"role in 'a'\": at character 9: expected '{' to open the set of values"},
      {"(role == 'a'", "\"(role == 'a'\": at character 13: expected ')' to close the '('"},
      {"role == 'a' &&", "\"role == 'a' &&\": at character 15: the selector ends where a term was expected "
                         "(a label key, has(key), all(), '!' or '(')"},
      {"role", "\"role\": at character 5: expected an operator after 'role': ==, !=, in, not in, "
               "contains, starts with, ends with"},
      {"!= 'a'", "\"!= 'a'\": at character 1: expected a label key before '!='"},
      {"role not 'a'", "\"role not 'a'\": at character 10: expected 'in' after 'not'"},
      {"all(x)", "\"all(x)\": at character 5: expected ')': all() takes no argument"},
      {"role starts 'a'", "\"role starts 'a'\": at character 13: expected 'with' after 'starts'"},
      {"role ends  'a'", "\"role ends  'a'\": at character 12: expected 'with' after 'ends'"},
      {"&& a", "\"&& a\": at character 1: expected a label key, has(key), all(), '!' or '('"},
      {"role == 'a' role", "\"role == 'a' role\": at character 13: expected && or || or the end of the selector"},
      {"{}", "\"{}\": at character 1: expected a label key, has(key), all(), '!' or '('"},
      {"a == 'x' | b == 'y'", "\"a == 'x' | b == 'y'\": at character 10: expected && or || or the end of the selector"},
  };
  for (const auto& [text, message] : cases) {
    StatusOr<Selector> s = Selector::Parse(text);
    ASSERT_FALSE(s.ok()) << text;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.status().message(), message);
  }
}

TEST(Selector, DeepOrHugeInputIsRefusedNotCrashed) {
  for (const char* unit : {"(", "!", "!("}) {
    std::string text;
    for (int i = 0; i < 30000; ++i) text += unit;
    StatusOr<Selector> s = Selector::Parse(text);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.status().message().find("nesting deeper than 128 levels"), std::string::npos)
        << s.status().message().substr(0, 80);
  }
  std::string nested = "has(a)";
  for (int i = 0; i < 100; ++i) nested = "(" + nested + ")";
  EXPECT_TRUE(Selector::Parse(nested).ok());
  const std::string huge(Selector::kMaxLength + 1, ' ');
  EXPECT_EQ(Selector::Parse(huge).status().message(),
            "the selector is 65537 characters long; at most 65536 are accepted");
  // A long flat chain is fine: it does not recurse.
  std::string chain = "has(a)";
  for (int i = 0; i < 5000; ++i) chain += " || has(a)";
  EXPECT_TRUE(Selector::Parse(chain).ok());
}

// --- Property tests over random trees ---

const char* const kKeys[] = {"a", "b", "c"};
const char* const kValues[] = {"x", "y", "z"};

std::string RandomText(Random& r, int depth) {
  const std::string key = kKeys[r.Uniform(3)];
  const std::string value = "'" + std::string(kValues[r.Uniform(3)]) + "'";
  switch (depth >= 4 ? r.Uniform(9) : r.Uniform(13)) {
    case 0: return "all()";
    case 1: return "has(" + key + ")";
    case 2: return key + " == " + value;
    case 3: return key + " != " + value;
    case 4: return key + " in {" + value + ", 'y'}";
    case 5: return key + " not in {" + value + "}";
    case 6: return key + " contains 'x'";
    case 7: return key + " starts with " + value;
    case 8: return key + " ends with " + value;
    case 9: return "!" + RandomText(r, depth + 1);
    case 10: return "(" + RandomText(r, depth + 1) + ")";
    case 11: return RandomText(r, depth + 1) + " && " + RandomText(r, depth + 1);
    default: return RandomText(r, depth + 1) + " || " + RandomText(r, depth + 1);
  }
}

Labels RandomLabels(Random& r) {
  Labels labels;
  for (const char* key : kKeys) {
    if (r.Chance(0.6)) labels[key] = std::string(kValues[r.Uniform(3)]) + (r.Chance(0.2) ? "x" : "");
  }
  return labels;
}

TEST(SelectorProperty, PrintedTextParsesBackToTheSameSelector) {
  Random r(11);
  for (int i = 0; i < 3000; ++i) {
    const std::string text = RandomText(r, 0);
    StatusOr<Selector> s = Selector::Parse(text);
    ASSERT_TRUE(s.ok()) << text << ": " << s.status().ToString();
    StatusOr<Selector> again = Selector::Parse(s->ToString());
    ASSERT_TRUE(again.ok()) << s->ToString();
    ASSERT_EQ(again->ToString(), s->ToString()) << text;
    for (int j = 0; j < 10; ++j) {
      const Labels labels = RandomLabels(r);
      ASSERT_EQ(s->Matches(labels), again->Matches(labels)) << text;
    }
  }
}

// De Morgan and double negation hold on every label set: the evaluator
// treats !, && and || as boolean logic.
TEST(SelectorProperty, BooleanLawsHold) {
  Random r(12);
  for (int i = 0; i < 2000; ++i) {
    const std::string a = RandomText(r, 2), b = RandomText(r, 2);
    const Selector lhs = *Selector::Parse("!((" + a + ") && (" + b + "))");
    const Selector rhs = *Selector::Parse("!(" + a + ") || !(" + b + ")");
    const Selector twice = *Selector::Parse("!!(" + a + ")");
    const Selector once = *Selector::Parse(a);
    for (int j = 0; j < 10; ++j) {
      const Labels labels = RandomLabels(r);
      ASSERT_EQ(lhs.Matches(labels), rhs.Matches(labels)) << a << " / " << b;
      ASSERT_EQ(twice.Matches(labels), once.Matches(labels)) << a;
    }
  }
}

// A Kubernetes LabelSelector translated to Calico's language selects exactly
// what the model's own matcher selects.
TEST(SelectorProperty, LabelSelectorsAgreeWithTheModel) {
  Random r(13);
  static const char* const kOps[] = {"In", "NotIn", "Exists", "DoesNotExist"};
  for (int i = 0; i < 3000; ++i) {
    model::LabelSelector ls;
    for (int k = 0; k < static_cast<int>(r.Uniform(3)); ++k) {
      ls.match_labels[kKeys[r.Uniform(3)]] = kValues[r.Uniform(3)];
    }
    for (int k = 0; k < static_cast<int>(r.Uniform(3)); ++k) {
      model::LabelSelectorRequirement req{kKeys[r.Uniform(3)], kOps[r.Uniform(4)], {}};
      if (req.op == "In" || req.op == "NotIn") {
        for (int v = 0; v < static_cast<int>(1 + r.Uniform(2)); ++v) req.values.push_back(kValues[r.Uniform(3)]);
      }
      ls.match_expressions.push_back(req);
    }
    const Selector s = Selector::FromLabelSelector(ls);
    EXPECT_EQ(s.IsAll(), ls.Empty());
    ASSERT_TRUE(Selector::Parse(s.ToString()).ok()) << s.ToString();
    for (int j = 0; j < 20; ++j) {
      const Labels labels = RandomLabels(r);
      ASSERT_EQ(s.Matches(labels), model::Matches(ls, labels)) << s.ToString();
    }
  }
}

}  // namespace
}  // namespace edgebed::policy

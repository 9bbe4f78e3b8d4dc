// Calico's selector language as a specification: what each operator selects
// (absent labels included), precedence, the canonical text, the exact error
// for each kind of mistake, the limits; then properties over random
// selectors (parse, print, parse again; match as a plain reference
// evaluator does) and Kubernetes label selectors held to the model's own
// matcher. Behaviour follows libcalico-go's lib/selector (tokenizer.go,
// parser.go, ast.go and their tests).
#include "core/policy/selector.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <set>

#include "core/env/random.h"

// Every heap allocation in this program passes here, so a test can tell
// whether Matches() makes any.
namespace {
std::atomic<bool> g_count_allocations{false};
std::atomic<long> g_allocations{0};
}  // namespace

// noinline: inlined where a `new` is visible, GCC would take the free()
// below for a mismatched deallocation and warn.
__attribute__((noinline)) void* operator new(std::size_t size) {
  if (g_count_allocations) ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
__attribute__((noinline)) void operator delete(void* p) noexcept { std::free(p); }
__attribute__((noinline)) void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace edgebed::policy {
namespace {

bool Match(const std::string& text, const Labels& labels) {
  StatusOr<Selector> s = Selector::Parse(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status().ToString();
  return s.ok() && s->Matches(labels);
}

std::string Canonical(const std::string& text) {
  StatusOr<Selector> s = Selector::Parse(text);
  EXPECT_TRUE(s.ok()) << text << ": " << s.status().ToString();
  return s.ok() ? s->ToString() : "(error)";
}

std::string ErrorOf(const std::string& text) {
  StatusOr<Selector> s = Selector::Parse(text);
  if (s.ok()) return "(parsed as " + s->ToString() + ")";
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << text;
  return s.status().message();
}

const Labels kDb = {{"role", "db"}, {"floor", "3"}, {"zone", "north-wing"}};

// --- What each operator selects ---

TEST(Selector, EqualsAndNotEquals) {
  EXPECT_TRUE(Match("role == 'db'", kDb));
  EXPECT_TRUE(Match("role == \"db\"", kDb));
  EXPECT_FALSE(Match("role == 'web'", kDb));
  EXPECT_FALSE(Match("tier == 'db'", kDb));  // absent: == fails
  EXPECT_FALSE(Match("role == ''", kDb));
  EXPECT_TRUE(Match("tier == ''", {{"tier", ""}}));
  EXPECT_TRUE(Match("role != 'web'", kDb));
  EXPECT_FALSE(Match("role != 'db'", kDb));
  EXPECT_TRUE(Match("tier != 'db'", kDb));  // absent: != holds, as in Calico
  EXPECT_TRUE(Match("role == 'DB'", {{"role", "DB"}}));
  EXPECT_FALSE(Match("role == 'DB'", kDb));  // case matters
}

TEST(Selector, InAndNotIn) {
  EXPECT_TRUE(Match("floor in {'1', '3'}", kDb));
  EXPECT_FALSE(Match("floor in {'1', '2'}", kDb));
  EXPECT_FALSE(Match("floor in {}", kDb));
  EXPECT_FALSE(Match("tier in {'a'}", kDb));  // absent: in fails
  EXPECT_TRUE(Match("floor not in {'1', '2'}", kDb));
  EXPECT_FALSE(Match("floor not in {'3'}", kDb));
  EXPECT_TRUE(Match("floor not in {}", kDb));
  EXPECT_TRUE(Match("tier not in {'a'}", kDb));  // absent: not in holds
  // Calico's own case: either kind of quote, holding the other kind.
  const std::string quotes = R"(a in {"'", '"', "c"})";
  for (const char* v : {"'", "\"", "c"}) EXPECT_TRUE(Match(quotes, {{"a", v}})) << v;
  EXPECT_FALSE(Match(quotes, {{"a", "e"}}));
  EXPECT_FALSE(Match(quotes, {}));
  EXPECT_TRUE(Match(R"(a not in {"'", '"', "c"})", {}));
  EXPECT_FALSE(Match(R"(a not in {"'", '"', "c"})", {{"a", "\""}}));
}

TEST(Selector, HasAllAndGlobal) {
  EXPECT_TRUE(Match("has(role)", kDb));
  EXPECT_FALSE(Match("has(tier)", kDb));
  EXPECT_TRUE(Match("has(tier)", {{"tier", ""}}));  // present, though empty
  EXPECT_TRUE(Match("!has(tier)", kDb));
  EXPECT_FALSE(Match("!has(role)", kDb));
  EXPECT_TRUE(Match("all()", {}));
  EXPECT_TRUE(Match("all()", kDb));
  EXPECT_TRUE(Match("global()", kDb));
  EXPECT_TRUE(Match("", kDb));
  EXPECT_TRUE(Match(" \t ", {}));
}

TEST(Selector, StringTests) {
  EXPECT_TRUE(Match("zone contains 'wing'", kDb));
  EXPECT_TRUE(Match("zone contains 'h-w'", kDb));
  EXPECT_FALSE(Match("zone contains 'south'", kDb));
  EXPECT_TRUE(Match("zone starts with 'north'", kDb));
  EXPECT_FALSE(Match("zone starts with 'wing'", kDb));
  EXPECT_TRUE(Match("zone ends with 'wing'", kDb));
  EXPECT_FALSE(Match("zone ends with 'north'", kDb));
  EXPECT_FALSE(Match("zone ends with 'a-north-wing'", kDb));  // longer than the value
  EXPECT_TRUE(Match("zone contains ''", kDb));
  EXPECT_TRUE(Match("zone starts with 'north-wing'", kDb));
  // An absent label fails all three, even against the empty string.
  EXPECT_FALSE(Match("tier contains ''", kDb));
  EXPECT_FALSE(Match("tier starts with ''", kDb));
  EXPECT_FALSE(Match("tier ends with ''", kDb));
}

// Calico collapses a run of '!' to one negation or none.
TEST(Selector, Negation) {
  const Labels ab = {{"a", "b"}};
  EXPECT_FALSE(Match("!has(a)", ab));
  EXPECT_FALSE(Match("! has(a)", ab));
  EXPECT_TRUE(Match("!!has(a)", ab));
  EXPECT_FALSE(Match("!!!has(a)", ab));
  EXPECT_FALSE(Match("!! ! has(a)", ab));
  EXPECT_FALSE(Match("! !!has(a)", ab));
  EXPECT_TRUE(Match("!a in {'a'}", ab));  // ! applies to the whole test
  EXPECT_FALSE(Match("!a == 'b'", ab));
  EXPECT_TRUE(Match("!a == 'x'", {}));
  EXPECT_FALSE(Match("!a != 'x'", {}));
  EXPECT_TRUE(Match("!(!has(a))", ab));
}

TEST(Selector, AndBindsTighterThanOr) {
  EXPECT_TRUE(Match("role == 'web' && floor == '9' || role == 'db'", kDb));
  EXPECT_FALSE(Match("role == 'web' && (floor == '9' || role == 'db')", kDb));
  EXPECT_TRUE(Match("role == 'db' || role == 'web' && floor == '9'", kDb));
  EXPECT_FALSE(Match("(role == 'db' || role == 'web') && floor == '9'", kDb));
  EXPECT_TRUE(Match("!(role == 'web') && !!has(floor)", kDb));
  EXPECT_FALSE(Match("!(role == 'db' || has(tier))", kDb));
  EXPECT_TRUE(Match("!has(tier) && has(role)", kDb));
  EXPECT_TRUE(Match("!(!has(role) || has(tier))", kDb));
  EXPECT_TRUE(Match("((((role == 'db'))))", kDb));
  EXPECT_FALSE(Match("! a == 'a1' || ! b == 'b1'", {{"a", "a1"}, {"b", "b1"}}));
  EXPECT_TRUE(Match("a != 'a1' || b == 'b1'", {{"a", "a1"}, {"b", "b1"}}));
}

TEST(Selector, KeysMayLookLikeKeywordsAndCarryPrefixes) {
  const Labels labels = {{"all", "x"},        {"in", "y"},
                         {"has", "z"},        {"not", "n"},
                         {"contains", "c"},   {"global", "g"},
                         {"projectcalico.org/namespace", "floor-1"},
                         {"app.kubernetes.io/name", "broker"},
                         {"_x-1.2/y", "w"}};
  EXPECT_TRUE(Match("all == 'x'", labels));
  EXPECT_TRUE(Match("in == 'y'", labels));
  EXPECT_TRUE(Match("has in {'z'}", labels));
  EXPECT_TRUE(Match("not not in {'m'}", labels));
  EXPECT_TRUE(Match("contains contains 'c'", labels));
  EXPECT_TRUE(Match("global starts with 'g'", labels));
  EXPECT_TRUE(Match("has(has) && has(all) && has(in)", labels));
  EXPECT_TRUE(Match("projectcalico.org/namespace == 'floor-1'", labels));
  EXPECT_TRUE(Match("has(app.kubernetes.io/name)", labels));
  EXPECT_TRUE(Match("_x-1.2/y == 'w'", labels));
}

TEST(Selector, SpacingIsFreeAndCalicosShortSpellingsAreRead) {
  const Labels labels = {{"a", "xy"}, {"b", "q"}};
  EXPECT_TRUE(Match("a=='xy'&&b!='r'", labels));
  EXPECT_TRUE(Match("(a=='xy')||(b=='r')", labels));
  EXPECT_TRUE(Match("has( a )&&!has(c)", labels));
  EXPECT_TRUE(Match("all( )", labels));
  EXPECT_TRUE(Match("\ta == 'xy'\n&&\r\nb in {\n'q',\n'r'\n}\n", labels));
  EXPECT_TRUE(Match("a in{'xy'}", labels));
  EXPECT_TRUE(Match("a contains'x'", labels));
  EXPECT_TRUE(Match("a notin {'q'}", labels));
  EXPECT_TRUE(Match("a not    in {'q'}", labels));
  EXPECT_TRUE(Match("a startswith 'x'", labels));
  EXPECT_TRUE(Match("a endswith 'y'", labels));
  EXPECT_TRUE(Match("a starts\twith 'x'", labels));
  EXPECT_TRUE(Match("b in {'q',}", labels));  // Calico accepts a trailing comma
  EXPECT_TRUE(Match("a == 'x y && z'", {{"a", "x y && z"}}));
}

// --- Keys, IsAll, HasGlobal ---

TEST(Selector, KnowsTheKeysItReads) {
  const Selector s = *Selector::Parse("role == 'db' && (has(floor) || zone in {'a'}) && !role != 'x'");
  EXPECT_EQ(s.keys(), (std::vector<std::string>{"floor", "role", "zone"}));
  EXPECT_TRUE(Selector().keys().empty());
  EXPECT_TRUE(Selector::Parse("all() || global()")->keys().empty());
}

TEST(Selector, IsAllOnlyWhenNoLabelCanMatter) {
  EXPECT_TRUE(Selector().IsAll());
  for (const char* text : {"", "all()", "global()", "(all())", "!!all()", "has(a) || all()",
                           "all() && global()", "a not in {}", "!(a in {})", "!(a in {} && has(b))"}) {
    EXPECT_TRUE(Selector::Parse(text)->IsAll()) << text;
  }
  for (const char* text : {"has(a)", "!all()", "all() && has(a)", "a != 'x'", "a in {}",
                           "a contains ''", "!has(a) || a == 'x'"}) {
    EXPECT_FALSE(Selector::Parse(text)->IsAll()) << text;
  }
}

TEST(Selector, HasGlobalWhereverItIs) {
  EXPECT_TRUE(Selector::Parse("global()")->HasGlobal());
  EXPECT_TRUE(Selector::Parse("has(a) && (b == 'x' || !global())")->HasGlobal());
  EXPECT_FALSE(Selector::Parse("all()")->HasGlobal());
  EXPECT_FALSE(Selector::Parse("global == 'x'")->HasGlobal());  // a label named global
  EXPECT_FALSE(Selector().HasGlobal());
}

TEST(Selector, MatchingAllocatesNothing) {
  const Selector s = *Selector::Parse(
      "(role in {'db', 'web'} || zone starts with 'north') && !has(tier) && floor != '9' && "
      "zone contains 'wing' && zone ends with 'g' && (role == 'db' || global()) && floor not in {'1'}");
  g_allocations = 0;
  g_count_allocations = true;
  const bool matched = s.Matches(kDb);
  g_count_allocations = false;
  EXPECT_TRUE(matched);
  EXPECT_EQ(g_allocations.load(), 0);
}

// --- The canonical text ---

TEST(Selector, CanonicalText) {
  EXPECT_EQ(Canonical("  role=='db'&&floor in {'3','1','3'}"), R"(role == "db" && floor in {"1", "3"})");
  EXPECT_EQ(Canonical("a == 'x' || b == 'y' && c == 'z'"), R"(a == "x" || (b == "y" && c == "z"))");
  EXPECT_EQ(Canonical("(a == 'x' || b == 'y') && c == 'z'"), R"((a == "x" || b == "y") && c == "z")");
  EXPECT_EQ(Canonical("(a == 'x' && b == 'y') && c == 'z'"), R"((a == "x" && b == "y") && c == "z")");
  EXPECT_EQ(Canonical("a == 'x' && b == 'y' && c == 'z'"), R"(a == "x" && b == "y" && c == "z")");
  EXPECT_EQ(Canonical("!(a == 'x' && has(b))"), R"(!(a == "x" && has(b)))");
  EXPECT_EQ(Canonical("!(a == 'x')"), R"(!a == "x")");
  EXPECT_EQ(Canonical("!(!has(a))"), "!(!has(a))");
  EXPECT_EQ(Canonical("!!has(a)"), "has(a)");
  EXPECT_EQ(Canonical("a == 'say \"hi\"'"), R"(a == 'say "hi"')");
  EXPECT_EQ(Canonical("a == \"it's\""), R"(a == "it's")");
  EXPECT_EQ(Canonical("a in {}"), "a in {}");
  EXPECT_EQ(Canonical("a notin {'x',}"), R"(a not in {"x"})");
  EXPECT_EQ(Canonical("a startswith 'x'"), R"(a starts with "x")");
  EXPECT_EQ(Canonical("a endswith'x'"), R"(a ends with "x")");
  EXPECT_EQ(Canonical("a contains 'x'"), R"(a contains "x")");
  EXPECT_EQ(Canonical("has( a ) || all( ) || global()"), "has(a) || all() || global()");
  // Calico's canonicalisation table (where it puts parentheses round a
  // top-level && or || too, we leave them off).
  EXPECT_EQ(Canonical(""), "all()");
  EXPECT_EQ(Canonical(" (all() )"), "all()");
  EXPECT_EQ(Canonical("! (has( b)||! has(a ))"), "!(has(b) || !has(a))");
  EXPECT_EQ(Canonical(R"(! (a == "b"&&! c != "d"))"), R"(!(a == "b" && !c != "d"))");
  EXPECT_EQ(Canonical(R"(a!='"')"), R"(a != '"')");
  EXPECT_EQ(Canonical(R"(a in {"z", "z", "x", "y", "x", "a"})"), R"(a in {"a", "x", "y", "z"})");
  EXPECT_EQ(*Selector::Parse("has(a) && has(b)"), *Selector::Parse("(has(a)) &&\thas( b )"));
  EXPECT_FALSE(*Selector::Parse("has(a) && has(b)") == *Selector::Parse("has(b) && has(a)"));
}

// --- Errors ---

TEST(Selector, BadSelectorsSayWhereWhatAndHowToFixIt) {
  const std::pair<const char*, const char*> cases[] = {
      // The header's example.
      {"role == db", R"m("role == db": at character 9: expected a quoted string ('db' or "db"))m"},
      {"role == 'db", R"m("role == 'db": at character 9: the string opened here has no closing '; add one)m"},
      {"role == \"db", R"m("role == "db": at character 9: the string opened here has no closing "; add one)m"},
      {"role = 'db'", R"m("role = 'db'": at character 6: '=' is not an operator; write '==', as in role == 'value')m"},
      {"role", "\"role\": at character 5: expected an operator after 'role' (==, !=, in, not in, contains, "
               "starts with or ends with); found the end of the selector; to test that the label is there, "
               "write has(role)"},
      {"role && has(a)", "\"role && has(a)\": at character 6: expected an operator after 'role' (==, !=, in, "
                         "not in, contains, starts with or ends with); found '&&'; to test that the label is "
                         "there, write has(role)"},
      {"role contain 'd'", "\"role contain 'd'\": at character 6: 'contain' is not an operator; after 'role' "
                           "comes ==, !=, in, not in, contains, starts with or ends with; did you mean "
                           "'contains'?"},
      {"role IN {'a'}", "\"role IN {'a'}\": at character 6: 'IN' is not an operator; after 'role' comes ==, "
                        "!=, in, not in, contains, starts with or ends with; did you mean 'in'?"},
      {"a b", "\"a b\": at character 3: 'b' is not an operator; after 'a' comes ==, !=, in, not in, contains, "
              "starts with or ends with"},
      {"role not 'a'", R"m("role not 'a'": at character 10: expected 'in' after 'not', as in role not in {'a', 'b'}; found ''')m"},
      {"role starts 'a'", R"m("role starts 'a'": at character 13: expected 'with' after 'starts', as in role starts with 'a'; found ''')m"},
      {"role ends by 'a'", R"m("role ends by 'a'": at character 11: expected 'with' after 'ends', as in role ends with 'a'; found 'by')m"},
      {"role in 'a'", R"m("role in 'a'": at character 9: expected '{' to start the set of values, as in role in {'a', 'b'}; found ''')m"},
      {"role in {'a' 'b'}", R"m("role in {'a' 'b'}": at character 14: expected ',' or '}' after a value in the set; found ''')m"},
      {"role in {'a', b}", R"m("role in {'a', b}": at character 15: expected a quoted string ('b' or "b"))m"},
      {"role in {,}", R"m("role in {,}": at character 10: expected a quoted string ('value' or "value"); found ',')m"},
      {"role in {'a'", R"m("role in {'a'": at character 13: the '{' at character 9 is not closed; add '}')m"},
      {"has(role", R"m("has(role": at character 9: expected ')' to close has(role; found the end of the selector)m"},
      {"has()", R"m("has()": at character 5: expected a label key inside has(), as in has(role); found ')')m"},
      {"has (role)", R"m("has (role)": at character 5: no space may come between 'has' and '('; write has(key))m"},
      {"all(x)", R"m("all(x)": at character 5: expected ')': all() takes no argument; found 'x')m"},
      {"global(", R"m("global(": at character 8: expected ')': global() takes no argument; found the end of the selector)m"},
      {"(role == 'a'", R"m("(role == 'a'": at character 13: the '(' at character 1 is not closed; add ')')m"},
      {"(a == 'x' b == 'y')", R"m("(a == 'x' b == 'y')": at character 11: expected &&, || or ')' to close the '(' at character 1; found 'b')m"},
      {"role == 'a')", R"m("role == 'a')": at character 12: this ')' closes no '('; remove it)m"},
      {"role == 'a' role", R"m("role == 'a' role": at character 13: expected &&, || or the end of the selector; found 'role')m"},
      {"a == 'x' & b == 'y'", R"m("a == 'x' & b == 'y'": at character 10: '&' is not an operator; write '&&')m"},
      {"(a == 'x' | b == 'y')", R"m("(a == 'x' | b == 'y')": at character 11: '|' is not an operator; write '||')m"},
      {"role == 'a' &&", R"m("role == 'a' &&": at character 15: expected a label key, has(key), all(), global(), '!' or '('; found the end of the selector)m"},
      {"&& a", R"m("&& a": at character 1: expected a label key, has(key), all(), global(), '!' or '('; found '&&')m"},
      {"()", R"m("()": at character 2: expected a label key, has(key), all(), global(), '!' or '('; found ')')m"},
      {"!", R"m("!": at character 2: expected a label key, has(key), all(), global(), '!' or '('; found the end of the selector)m"},
      {"!= 'a'", R"m("!= 'a'": at character 1: '!=' needs a label key before it, as in key != 'value')m"},
      {"'b1' == b", R"m("'b1' == b": at character 1: a test starts with its label key, then the quoted value, as in key == 'value')m"},
      {"a == 'x' && %", R"m("a == 'x' && %": at character 13: expected a label key, has(key), all(), global(), '!' or '('; found '%')m"},
      {"a == 'x'\n&& \x01", R"m("a == 'x' &&  ": at character 13: expected a label key, has(key), all(), global(), '!' or '('; found the byte 0x01)m"},
      {"a\xc3\xa9 == 'x'", "\"a\xc3\xa9 == 'x'\": at character 2: expected an operator after 'a' (==, !=, in, not in, "
                           "contains, starts with or ends with); found the byte 0xC3"},
  };
  for (const auto& [text, message] : cases) EXPECT_EQ(ErrorOf(text), message) << text;
}

// Every selector libcalico-go's parser test lists as bad is refused here too.
TEST(Selector, RefusesWhatCalicoRefuses) {
  for (const char* text :
       {"b == b", "b contains b", "b starts with b", "b ends with b", "'b1' == b", "b", "a b", "!",
        "foo == \"bar\" &", "foo == \"bar\" |", "foo != ||", "foo in {\"\", ||", "foo in \"\"", "\"FOO",
        "\"FOO'", "'FOO", "(", "(a == \"foo\"", ")", "()", "%", "a == \"b\" && %", "a == \"b\" || %", "a ",
        "has(foo) &&", "has (foo)", "all ()", "a in {,}", "a == 'x' b == 'y'", "a !== 'x'"}) {
    EXPECT_FALSE(Selector::Parse(text).ok()) << text;
  }
}

TEST(Selector, LongTextsAreQuotedAroundTheError) {
  std::string text = "has(a)";
  for (int i = 0; i < 30; ++i) text += " || has(a)";
  text += " || has(";
  EXPECT_EQ(ErrorOf(text), "\"...a) || has(a) || has(a) || has(a) || has(\": at character 315: expected a "
                           "label key inside has(), as in has(role); found the end of the selector");
  const std::string k40(40, 'k');
  EXPECT_EQ(ErrorOf(std::string(120, 'k')),
            "\"..." + k40 + "\": at character 121: expected an operator after '" + k40 +
                "...' (==, !=, in, not in, contains, starts with or ends with); found the end of the selector; "
                "to test that the label is there, write has(" + k40 + "...)");
  text = "a == 'x' && b = 'y'" + std::string(200, ' ') + "&& has(c)";
  EXPECT_EQ(ErrorOf(text), "\"a == 'x' && b = 'y'" + std::string(35, ' ') +
                               "...\": at character 15: '=' is not an operator; write '==', as in b == 'value'");
}

// --- Limits: no input overflows the stack or escapes the length bound ---

std::string Repeat(const std::string& unit, size_t times) {
  std::string s;
  for (size_t i = 0; i < times; ++i) s += unit;
  return s;
}

TEST(Selector, NestingIsBounded) {
  const int max = Selector::kMaxDepth;
  EXPECT_TRUE(Selector::Parse(Repeat("(", max) + "has(a)" + Repeat(")", max)).ok());
  EXPECT_TRUE(Selector::Parse(Repeat("!(", max) + "has(a)" + Repeat(")", max)).ok());
  const std::string deeper = Repeat("(", max + 1) + "has(a)" + Repeat(")", max + 1);
  EXPECT_EQ(ErrorOf(deeper), "\"..." + Repeat("(", 41) + "has(a)" + Repeat(")", 33) +
                                 "...\": at character 129: more than 128 parentheses are open here; flatten "
                                 "the selector");
  for (const char* unit : {"(", "!(", "(!", "a == 'x' && ("}) {
    const std::string text = Repeat(unit, 60000 / std::string(unit).size());
    const std::string message = ErrorOf(text);
    EXPECT_NE(message.find(": more than 128 parentheses are open here"), std::string::npos) << message;
  }
  // A run of '!' nests nothing: Calico folds it to one negation or none.
  EXPECT_EQ(Canonical(Repeat("!", 50000) + "has(a)"), "has(a)");
  EXPECT_EQ(Canonical(Repeat("!", 50001) + "has(a)"), "!has(a)");
  EXPECT_NE(ErrorOf(Repeat("!", 60000)).find("at character 60001: expected a label key"), std::string::npos);
  // Beyond the length limit, nothing is even looked at.
  for (const char c : {'(', '!', '{', '\''}) {
    EXPECT_EQ(ErrorOf(std::string(100000, c)),
              "the selector is 100000 characters long; at most 65536 are accepted; select by fewer, "
              "broader labels");
  }
  // Long flat chains do not recurse.
  EXPECT_TRUE(Selector::Parse("has(a)" + Repeat(" || has(a) && !has(b)", 2000)).ok());
}

TEST(Selector, LengthIsBoundedInTheTextAndInItsCanonicalForm) {
  EXPECT_TRUE(Selector::Parse(std::string(Selector::kMaxLength, ' '))->IsAll());
  EXPECT_EQ(ErrorOf(std::string(Selector::kMaxLength + 1, ' ')),
            "the selector is 65537 characters long; at most 65536 are accepted; select by fewer, broader labels");
  // Compact text that the canonical spacing would push over the limit: the
  // canonical text must parse back, so the selector is refused.
  const std::string compact = "a==''" + Repeat("||a==''", 9361);
  ASSERT_LE(compact.size(), Selector::kMaxLength);
  EXPECT_EQ(ErrorOf(compact), "the selector is 102978 characters long in canonical form (spaced and "
                              "parenthesized); at most 65536 are accepted; select by fewer, broader labels");
  const std::string fits = "a==''" + Repeat("||a==''", 5000);
  StatusOr<Selector> s = Selector::Parse(fits);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(Canonical(s->ToString()), s->ToString());
}

// --- Kubernetes label selectors ---

TEST(Selector, FromLabelSelector) {
  model::LabelSelector ls;
  EXPECT_EQ(Selector::FromLabelSelector(ls).ToString(), "all()");
  EXPECT_TRUE(Selector::FromLabelSelector(ls).IsAll());
  ls.match_labels = {{"app", "web"}, {"app.kubernetes.io/part-of", "bms"}};
  ls.match_expressions = {{"tier", "In", {"b", "a", "b"}},
                          {"zone", "NotIn", {"q"}},
                          {"x", "Exists", {}},
                          {"y", "DoesNotExist", {}}};
  const Selector s = Selector::FromLabelSelector(ls);
  EXPECT_EQ(s.ToString(), R"(app == "web" && app.kubernetes.io/part-of == "bms" && tier in {"a", "b"} && )"
                          R"(zone not in {"q"} && has(x) && !has(y))");
  EXPECT_EQ(s, *Selector::Parse(s.ToString()));
  EXPECT_EQ(s.keys(), (std::vector<std::string>{"app", "app.kubernetes.io/part-of", "tier", "x", "y", "zone"}));
  model::LabelSelector one;
  one.match_labels = {{"app", "web"}};
  EXPECT_EQ(Selector::FromLabelSelector(one).ToString(), R"(app == "web")");
}

// --- Properties over random selectors ---

// A selector as the test builds it, with a plain evaluator written from
// Calico's ast.go, independent of the tree in selector.cc.
struct Expr {
  enum Kind { kAll, kGlobal, kHas, kEq, kNe, kIn, kNotIn, kContains, kStarts, kEnds, kNot, kAnd, kOr };
  Kind kind = kAll;
  std::string key, value;
  std::vector<std::string> values;
  std::vector<Expr> operands;
};

bool Eval(const Expr& e, const Labels& labels) {
  const auto it = labels.find(e.key);
  const bool present = it != labels.end();
  const std::string v = present ? it->second : "";
  switch (e.kind) {
    case Expr::kAll:
    case Expr::kGlobal: return true;
    case Expr::kHas: return present;
    case Expr::kEq: return present && v == e.value;
    case Expr::kNe: return !present || v != e.value;
    case Expr::kIn: return present && std::count(e.values.begin(), e.values.end(), v) > 0;
    case Expr::kNotIn: return !present || std::count(e.values.begin(), e.values.end(), v) == 0;
    case Expr::kContains: return present && v.find(e.value) != std::string::npos;
    case Expr::kStarts: return present && v.substr(0, e.value.size()) == e.value;
    case Expr::kEnds:
      return present && v.size() >= e.value.size() && v.substr(v.size() - e.value.size()) == e.value;
    case Expr::kNot: return !Eval(e.operands[0], labels);
    case Expr::kAnd:
      for (const Expr& o : e.operands) if (!Eval(o, labels)) return false;
      return true;
    case Expr::kOr:
      for (const Expr& o : e.operands) if (Eval(o, labels)) return true;
      return false;
  }
  return false;
}

void KeysOf(const Expr& e, std::set<std::string>* keys) {
  if (!e.key.empty()) keys->insert(e.key);
  for (const Expr& o : e.operands) KeysOf(o, keys);
}

bool HasGlobalIn(const Expr& e) {
  return e.kind == Expr::kGlobal ||
         std::any_of(e.operands.begin(), e.operands.end(), [](const Expr& o) { return HasGlobalIn(o); });
}

// Keys include keywords, which must still read as keys; values include
// both kinds of quote, spaces and operator characters.
const char* const kKeys[] = {"a", "b", "app.kubernetes.io/name", "in", "has", "not", "all"};
const char* const kValues[] = {"", "x", "xy", "yx", "x y", "'", "\"", "it's", "say \"hi\"", "&& ||", "{}"};

template <typename T, size_t N>
const T& Pick(Random& r, const T (&items)[N]) { return items[r.Uniform(N)]; }

Expr RandomExpr(Random& r, int depth) {
  Expr e;
  const bool leaf = depth >= 4 || r.Chance(0.4);
  e.kind = static_cast<Expr::Kind>(leaf ? r.Uniform(10) : 10 + r.Uniform(3));
  if (e.kind == Expr::kAll || e.kind == Expr::kGlobal) {
    if (r.Chance(0.7)) e.kind = Expr::kHas;  // keep them rare: they make every || true
  }
  if (leaf && e.kind != Expr::kAll && e.kind != Expr::kGlobal) e.key = Pick(r, kKeys);
  e.value = Pick(r, kValues);
  if (e.kind == Expr::kIn || e.kind == Expr::kNotIn) {
    for (uint64_t i = r.Uniform(4); i > 0; --i) e.values.push_back(Pick(r, kValues));
  }
  const uint64_t operands = e.kind == Expr::kNot ? 1 : e.kind > Expr::kNot ? 2 + r.Uniform(3) : 0;
  for (uint64_t i = 0; i < operands; ++i) e.operands.push_back(RandomExpr(r, depth + 1));
  return e;
}

std::string Space(Random& r) {
  static const char* const kSpaces[] = {"", "", " ", " ", "  ", "\t", "\n"};
  return Pick(r, kSpaces);
}

std::string QuoteValue(Random& r, const std::string& v) {
  const bool single = v.find('"') != std::string::npos || (v.find('\'') == std::string::npos && r.Chance(0.5));
  return single ? "'" + v + "'" : "\"" + v + "\"";
}

// Text for `e` in a random style: spacing, quotes, Calico's one-word
// spellings, and parentheses where precedence needs them or at random.
std::string Write(Random& r, const Expr& e) {
  const auto sub = [&](const Expr& o, bool needs_parens) {
    const std::string text = Write(r, o);
    return needs_parens || r.Chance(0.15) ? "(" + Space(r) + text + Space(r) + ")" : text;
  };
  const std::string gap = Space(r) + " ";  // a word operator needs one space after the key
  switch (e.kind) {
    case Expr::kAll: return "all(" + Space(r) + ")";
    case Expr::kGlobal: return "global(" + Space(r) + ")";
    case Expr::kHas: return "has(" + Space(r) + e.key + Space(r) + ")";
    case Expr::kEq: return e.key + Space(r) + "==" + Space(r) + QuoteValue(r, e.value);
    case Expr::kNe: return e.key + Space(r) + "!=" + Space(r) + QuoteValue(r, e.value);
    case Expr::kContains: return e.key + gap + "contains" + Space(r) + QuoteValue(r, e.value);
    case Expr::kStarts:
      return e.key + gap + (r.Chance(0.2) ? "startswith" : "starts" + gap + "with") + Space(r) +
             QuoteValue(r, e.value);
    case Expr::kEnds:
      return e.key + gap + (r.Chance(0.2) ? "endswith" : "ends" + gap + "with") + Space(r) +
             QuoteValue(r, e.value);
    case Expr::kIn:
    case Expr::kNotIn: {
      std::string s = e.key + gap +
                      (e.kind == Expr::kIn ? "in" : r.Chance(0.2) ? "notin" : "not" + gap + "in") + Space(r) + "{";
      for (size_t i = 0; i < e.values.size(); ++i) {
        s += (i ? "," + Space(r) : Space(r)) + QuoteValue(r, e.values[i]);
      }
      if (!e.values.empty() && r.Chance(0.1)) s += ",";
      return s + Space(r) + "}";
    }
    case Expr::kNot: {
      const Expr::Kind inner = e.operands[0].kind;
      return "!" + Space(r) + sub(e.operands[0], inner == Expr::kAnd || inner == Expr::kOr);
    }
    case Expr::kAnd:
    case Expr::kOr: {
      std::string s;
      for (size_t i = 0; i < e.operands.size(); ++i) {
        if (i) s += Space(r) + (e.kind == Expr::kAnd ? "&&" : "||") + Space(r);
        s += sub(e.operands[i], e.kind == Expr::kAnd && e.operands[i].kind == Expr::kOr);
      }
      return s;
    }
  }
  return "";
}

Labels RandomLabels(Random& r) {
  Labels labels;
  for (const char* key : kKeys) {
    if (r.Chance(0.5)) labels[key] = std::string(Pick(r, kValues)) + (r.Chance(0.3) ? Pick(r, kValues) : "");
  }
  return labels;
}

// Each random selector, written in a random style, parses; selects exactly
// what the plain evaluator selects; knows its keys and global(); and prints
// to a canonical text that parses back to an equal selector (a fixed point)
// that selects the same.
TEST(SelectorProperty, ParsesMatchesAndRoundTripsLikeTheReference) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    Random r(seed);
    for (int i = 0; i < 100; ++i) {
      const Expr e = RandomExpr(r, 0);
      const std::string text = Space(r) + Write(r, e) + Space(r);
      StatusOr<Selector> s = Selector::Parse(text);
      ASSERT_TRUE(s.ok()) << "seed " << seed << ": " << s.status().ToString();
      StatusOr<Selector> again = Selector::Parse(s->ToString());
      ASSERT_TRUE(again.ok()) << "seed " << seed << ": " << again.status().ToString();
      ASSERT_EQ(again->ToString(), s->ToString()) << "seed " << seed << ", text " << text;
      std::set<std::string> keys;
      KeysOf(e, &keys);
      ASSERT_EQ(s->keys(), std::vector<std::string>(keys.begin(), keys.end())) << "seed " << seed;
      ASSERT_EQ(again->keys(), s->keys()) << "seed " << seed;
      ASSERT_EQ(s->HasGlobal(), HasGlobalIn(e)) << "seed " << seed << ", text " << text;
      for (int j = 0; j < 30; ++j) {
        const Labels labels = RandomLabels(r);
        const bool want = Eval(e, labels);
        ASSERT_EQ(s->Matches(labels), want) << "seed " << seed << ", text " << text;
        ASSERT_EQ(again->Matches(labels), want) << "seed " << seed << ", canonical " << s->ToString();
        if (s->IsAll()) {
          ASSERT_TRUE(want) << "seed " << seed << ", text " << text;
        }
      }
    }
  }
}

// A Kubernetes LabelSelector translated to Calico's language selects exactly
// what the model's own matcher selects, and prints to a text that parses back.
TEST(SelectorProperty, LabelSelectorsAgreeWithTheModel) {
  static const char* const kOps[] = {"In", "NotIn", "Exists", "DoesNotExist"};
  static const char* const kLabelValues[] = {"", "x", "y", "z", "web-1", "a.b_c"};
  for (uint64_t seed = 1; seed <= 30; ++seed) {
    Random r(seed * 101);
    for (int i = 0; i < 100; ++i) {
      model::LabelSelector ls;
      for (uint64_t k = r.Uniform(3); k > 0; --k) ls.match_labels[Pick(r, kKeys)] = Pick(r, kLabelValues);
      for (uint64_t k = r.Uniform(4); k > 0; --k) {
        model::LabelSelectorRequirement req{Pick(r, kKeys), Pick(r, kOps), {}};
        // Values even where validation would refuse them (none for In,
        // some for Exists): both matchers must still agree.
        for (uint64_t v = r.Uniform(4); v > 0; --v) req.values.push_back(Pick(r, kLabelValues));
        ls.match_expressions.push_back(req);
      }
      const Selector s = Selector::FromLabelSelector(ls);
      if (ls.Empty()) {
        EXPECT_TRUE(s.IsAll()) << "seed " << seed;
      }
      StatusOr<Selector> parsed = Selector::Parse(s.ToString());
      ASSERT_TRUE(parsed.ok()) << "seed " << seed << ": " << parsed.status().ToString();
      ASSERT_EQ(*parsed, s) << "seed " << seed;
      for (int j = 0; j < 30; ++j) {
        Labels labels;
        for (const char* key : kKeys) {
          if (r.Chance(0.5)) labels[key] = Pick(r, kLabelValues);
        }
        const bool want = model::Matches(ls, labels);
        ASSERT_EQ(s.Matches(labels), want) << "seed " << seed << ", " << s.ToString();
        ASSERT_EQ(parsed->Matches(labels), want) << "seed " << seed << ", " << s.ToString();
      }
    }
  }
}

// Mangled selectors (a character dropped, doubled or swapped for one that
// matters to the grammar) parse or fail cleanly; what parses round-trips.
TEST(SelectorProperty, MangledTextParsesOrFailsCleanly) {
  static const char kGrammar[] = "()!&|={},'\" \tainothswe";
  for (uint64_t seed = 1; seed <= 20; ++seed) {
    Random r(seed * 7);
    for (int i = 0; i < 200; ++i) {
      std::string text = Write(r, RandomExpr(r, 0));
      for (uint64_t edits = 1 + r.Uniform(3); edits > 0 && !text.empty(); --edits) {
        const size_t at = r.Uniform(text.size());
        switch (r.Uniform(3)) {
          case 0: text.erase(at, 1); break;
          case 1: text.insert(at, 1, text[at]); break;
          default: text[at] = kGrammar[r.Uniform(sizeof(kGrammar) - 1)]; break;
        }
      }
      StatusOr<Selector> s = Selector::Parse(text);
      if (!s.ok()) {
        const std::string& message = s.status().message();
        ASSERT_NE(message.find(": at character "), std::string::npos) << message;
        continue;
      }
      StatusOr<Selector> again = Selector::Parse(s->ToString());
      ASSERT_TRUE(again.ok()) << "seed " << seed << ", text " << text;
      ASSERT_EQ(*again, *s) << "seed " << seed << ", text " << text;
    }
  }
}

}  // namespace
}  // namespace edgebed::policy

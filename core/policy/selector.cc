#include "core/policy/selector.h"

#include <algorithm>
#include <initializer_list>
#include <set>

#include "core/base/closest.h"

namespace edgebed::policy {

// The expression tree, shaped as Calico's parser shapes it: a flat chain of
// && (or ||) is one node with all its operands, parentheses leave no node of
// their own, and a run of '!' becomes one negation or none.
struct Selector::Node {
  enum class Op : uint8_t {
    kAll, kGlobal, kHas, kEq, kNe, kIn, kNotIn, kContains, kStartsWith, kEndsWith,
    kNot, kAnd, kOr,
  };
  Op op = Op::kAll;
  std::string key;                  // the label a test reads; empty for the others
  std::vector<std::string> values;  // kEq .. kEndsWith: one; kIn, kNotIn: sorted, unique
  std::vector<std::unique_ptr<const Node>> operands;  // kNot: one; kAnd, kOr: two or more
};

namespace {

using Node = Selector::Node;
using Op = Node::Op;
using NodePtr = std::unique_ptr<Node>;

// Calico itself skips only spaces and tabs; a selector written as a YAML
// block keeps its line breaks, so they count as spaces here too.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Spelled out rather than std::isalnum: the locale must not change the language.
bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '.' || c == '/' || c == '-';
}

NodePtr Leaf(Op op, std::string_view key = {}, std::vector<std::string> values = {}) {
  auto node = std::make_unique<Node>();
  node->op = op;
  node->key = std::string(key);
  node->values = std::move(values);
  return node;
}

// Calico keeps a set's values sorted and unique, so {'b', 'a', 'a'} prints
// as {"a", "b"}; matching then needs only a binary search.
NodePtr SetLeaf(Op op, std::string_view key, std::vector<std::string> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return Leaf(op, key, std::move(values));
}

NodePtr Negation(NodePtr operand) {
  auto node = std::make_unique<Node>();
  node->op = Op::kNot;
  node->operands.push_back(std::move(operand));
  return node;
}

// One operand stands for itself; Calico makes no node for a chain of one.
NodePtr Chain(Op op, std::vector<NodePtr> operands) {
  if (operands.size() == 1) return std::move(operands[0]);
  auto node = std::make_unique<Node>();
  node->op = op;
  for (NodePtr& operand : operands) node->operands.push_back(std::move(operand));
  return node;
}

// An error quotes at most this much text whole; a longer text is cut to the
// stretch around the error, so a 64 KiB selector does not fill a log line.
constexpr size_t kQuoteWhole = 100;
constexpr size_t kQuoteAround = 40;
constexpr size_t kShowWord = 40;

// A key or word as an error shows it: long ones cut short.
std::string Shorten(std::string_view word) {
  return word.size() <= kShowWord ? std::string(word) : std::string(word.substr(0, kShowWord)) + "...";
}

const char* const kOperatorList = "==, !=, in, not in, contains, starts with or ends with";

// Recursive descent straight over the text (Calico tokenizes first; the
// language is the same). Every function leaves pos_ on the next non-space
// character. The first error stops the parse: the function that finds it
// records it with Fail() and returns null (or false), and so do its callers.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  // The whole text as one expression; null when it is not one (see error()).
  NodePtr ParseText() {
    SkipSpace();
    if (AtEnd()) return Leaf(Op::kAll);  // as in Calico, a blank selector is all()
    NodePtr root = ParseOr(0);
    if (!root) return nullptr;
    if (!AtEnd()) return FailAfterExpression(std::string_view::npos);
    return root;
  }

  const Status& error() const { return error_; }

 private:
  // or := and ('||' and)*
  NodePtr ParseOr(int depth) {
    std::vector<NodePtr> operands;
    do {
      NodePtr operand = ParseAnd(depth);
      if (!operand) return nullptr;
      operands.push_back(std::move(operand));
    } while (Accept("||"));
    return Chain(Op::kOr, std::move(operands));
  }

  // and := unary ('&&' unary)*
  NodePtr ParseAnd(int depth) {
    std::vector<NodePtr> operands;
    do {
      NodePtr operand = ParseUnary(depth);
      if (!operand) return nullptr;
      operands.push_back(std::move(operand));
    } while (Accept("&&"));
    return Chain(Op::kAnd, std::move(operands));
  }

  // unary := '!'* ('(' <or> ')' | term). The '!'s are counted, not recursed
  // into, so only parentheses nest, and `depth` counts the open ones.
  NodePtr ParseUnary(int depth) {
    bool negated = false;
    while (!AtEnd() && Peek() == '!' && !StartsWith("!=")) {
      negated = !negated;
      Advance(1);
    }
    NodePtr operand;
    if (!AtEnd() && Peek() == '(') {
      if (depth >= Selector::kMaxDepth) {
        return Fail("more than " + std::to_string(Selector::kMaxDepth) +
                    " parentheses are open here; flatten the selector");
      }
      const size_t open = pos_;
      Advance(1);
      operand = ParseOr(depth + 1);
      if (!operand) return nullptr;
      if (AtEnd() || Peek() != ')') return FailAfterExpression(open);
      Advance(1);
    } else {
      operand = ParseTerm();
      if (!operand) return nullptr;
    }
    return negated ? Negation(std::move(operand)) : std::move(operand);
  }

  // term := all() | global() | has(key) | key operator value
  NodePtr ParseTerm() {
    // Like Calico, the functions need their '(' at once: "has (a)" is a
    // label named "has" followed by a stray '('.
    if (StartsWith("has(")) {
      Advance(4);
      const std::string_view key = Word();
      if (key.empty()) return Fail("expected a label key inside has(), as in has(role); found " + Found());
      Advance(key.size());
      if (AtEnd() || Peek() != ')') {
        return Fail("expected ')' to close has(" + Shorten(key) + "; found " + Found());
      }
      Advance(1);
      return Leaf(Op::kHas, key);
    }
    for (const Op op : {Op::kAll, Op::kGlobal}) {
      const std::string name = op == Op::kAll ? "all" : "global";
      if (!StartsWith(name + "(")) continue;
      Advance(name.size() + 1);
      if (AtEnd() || Peek() != ')') {
        return Fail("expected ')': " + name + "() takes no argument; found " + Found());
      }
      Advance(1);
      return Leaf(op);
    }
    const std::string_view key = Word();
    if (key.empty()) return FailNoTerm();
    Advance(key.size());
    return ParseTest(key);
  }

  // After a label key: the operator and what it compares with.
  NodePtr ParseTest(std::string_view key) {
    if (Accept("==")) return ParseComparison(Op::kEq, key);
    if (Accept("!=")) return ParseComparison(Op::kNe, key);
    const std::string k = Shorten(key);
    const std::string quoted_key = "'" + k + "'";
    const std::string operator_list = " (" + std::string(kOperatorList) + ")";
    // A bare key where a term could end was most likely meant as has(key).
    const bool term_could_end = AtEnd() || Peek() == ')' || StartsWith("&&") || StartsWith("||");
    if (term_could_end) {
      return Fail("expected an operator after " + quoted_key + operator_list + "; found " + Found() +
                  "; to test that the label is there, write has(" + k + ")");
    }
    if (Peek() == '=') return Fail("'=' is not an operator; write '==', as in " + k + " == 'value'");
    if (Peek() == '(' && (key == "has" || key == "all" || key == "global")) {
      return Fail("no space may come between '" + k + "' and '('; write " +
                  k + (key == "has" ? "(key)" : "()"));
    }
    const size_t word_at = pos_;
    const std::string_view word = Word();
    if (word.empty()) {
      return Fail("expected an operator after " + quoted_key + operator_list + "; found " + Found());
    }
    Advance(word.size());
    // Calico also reads the two-word operators written as one word.
    if (word == "in") return ParseSet(Op::kIn, key);
    if (word == "notin") return ParseSet(Op::kNotIn, key);
    if (word == "contains") return ParseComparison(Op::kContains, key);
    if (word == "startswith") return ParseComparison(Op::kStartsWith, key);
    if (word == "endswith") return ParseComparison(Op::kEndsWith, key);
    if (word == "not" || word == "starts" || word == "ends") {
      const std::string second = word == "not" ? "in" : "with";
      const std::string example =
          k + " " + std::string(word) + " " + second + (word == "not" ? " {'a', 'b'}" : " 'a'");
      if (Word() != second) {
        return Fail("expected '" + second + "' after '" + std::string(word) + "', as in " + example +
                    "; found " + Found());
      }
      Advance(second.size());
      if (word == "not") return ParseSet(Op::kNotIn, key);
      return ParseComparison(word == "starts" ? Op::kStartsWith : Op::kEndsWith, key);
    }
    std::string message = "'" + Shorten(word) + "' is not an operator; after " +
                          quoted_key + " comes " + kOperatorList;
    // By edit distance every word under three letters is near 'in'; of
    // those only 'in' in other letter case is a likely slip.
    const bool in_other_case = word.size() == 2 && (word[0] == 'i' || word[0] == 'I') &&
                               (word[1] == 'n' || word[1] == 'N');
    const std::string near =
        word.size() < 3 ? (in_other_case ? "in" : "")
                        : ClosestName(std::string(word), {"in", "contains", "not", "notin", "starts",
                                                          "startswith", "ends", "endswith"});
    if (!near.empty()) {
      const std::string spelled = near == "not" || near == "notin"         ? "not in"
                                  : near == "starts" || near == "startswith" ? "starts with"
                                  : near == "ends" || near == "endswith"     ? "ends with"
                                                                             : near;
      message += "; did you mean '" + spelled + "'?";
    }
    return Fail(word_at, message);
  }

  NodePtr ParseComparison(Op op, std::string_view key) {
    std::string value;
    if (!ParseString(&value)) return nullptr;
    return Leaf(op, key, {std::move(value)});
  }

  // '{' [str (',' str)* [',']] '}' — Calico accepts the trailing comma.
  NodePtr ParseSet(Op op, std::string_view key) {
    if (AtEnd() || Peek() != '{') {
      return Fail("expected '{' to start the set of values, as in " + Shorten(key) +
                  (op == Op::kIn ? " in" : " not in") + " {'a', 'b'}; found " + Found());
    }
    const size_t open = pos_;
    Advance(1);
    std::vector<std::string> values;
    while (AtEnd() || Peek() != '}') {
      if (AtEnd()) return FailUnclosedSet(open);
      std::string value;
      if (!ParseString(&value)) return nullptr;
      values.push_back(std::move(value));
      if (Accept(",")) continue;
      if (AtEnd()) return FailUnclosedSet(open);
      if (Peek() != '}') return Fail("expected ',' or '}' after a value in the set; found " + Found());
    }
    Advance(1);
    return SetLeaf(op, key, std::move(values));
  }

  // A value in single or double quotes. Calico has no escapes: a value runs
  // to the next quote of the kind that opened it.
  bool ParseString(std::string* value) {
    if (AtEnd() || (Peek() != '\'' && Peek() != '"')) {
      const std::string_view word = Word();
      if (!word.empty() && word.size() <= kShowWord) {
        const std::string w(word);
        Fail("expected a quoted string ('" + w + "' or \"" + w + "\")");
      } else {
        Fail("expected a quoted string ('value' or \"value\"); found " + Found());
      }
      return false;
    }
    const char quote = Peek();
    const size_t close = text_.find(quote, pos_ + 1);
    if (close == std::string_view::npos) {
      Fail(std::string("the string opened here has no closing ") + quote + "; add one");
      return false;
    }
    value->assign(text_.substr(pos_ + 1, close - pos_ - 1));
    Advance(close + 1 - pos_);
    return true;
  }

  // --- Errors ---

  NodePtr Fail(std::string message) { return Fail(pos_, std::move(message)); }

  NodePtr Fail(size_t at, std::string message) {
    error_ = InvalidArgument(Excerpt(at) + ": at character " + std::to_string(at + 1) + ": " + message);
    return nullptr;
  }

  // A term was due and none starts here.
  NodePtr FailNoTerm() {
    if (StartsWith("!=")) return Fail("'!=' needs a label key before it, as in key != 'value'");
    if (!AtEnd() && (Peek() == '\'' || Peek() == '"')) {
      return Fail("a test starts with its label key, then the quoted value, as in key == 'value'");
    }
    return Fail("expected a label key, has(key), all(), global(), '!' or '('; found " + Found());
  }

  // A whole expression ended and what follows cannot continue it. `open` is
  // where the '(' it sits in starts, or npos at the top.
  NodePtr FailAfterExpression(size_t open) {
    const bool nested = open != std::string_view::npos;
    const std::string paren = nested ? "the '(' at character " + std::to_string(open + 1) : "";
    if (AtEnd()) return Fail(paren + " is not closed; add ')'");
    if (Peek() == '&') return Fail("'&' is not an operator; write '&&'");
    if (Peek() == '|') return Fail("'|' is not an operator; write '||'");
    if (!nested && Peek() == ')') return Fail("this ')' closes no '('; remove it");
    const std::string closer = nested ? "')' to close " + paren : "the end of the selector";
    return Fail("expected &&, || or " + closer + "; found " + Found());
  }

  NodePtr FailUnclosedSet(size_t open) {
    return Fail("the '{' at character " + std::to_string(open + 1) + " is not closed; add '}'");
  }

  // What is at pos_, for "found ...".
  std::string Found() const {
    if (AtEnd()) return "the end of the selector";
    const std::string_view word = Word();
    if (!word.empty()) {
      return "'" + Shorten(word) + "'";
    }
    for (const char* pair : {"==", "!=", "&&", "||"}) {
      if (StartsWith(pair)) return std::string("'") + pair + "'";
    }
    const auto c = static_cast<unsigned char>(Peek());
    if (c > ' ' && c < 0x7f) return std::string("'") + Peek() + "'";
    const char* const digits = "0123456789ABCDEF";
    return std::string("the byte 0x") + digits[c >> 4] + digits[c & 15];
  }

  // The text in quotes, cut around `at` when long, with control characters
  // blanked so the message stays on one line and columns still line up.
  std::string Excerpt(size_t at) const {
    size_t begin = 0, end = text_.size();
    if (text_.size() > kQuoteWhole) {
      begin = at > kQuoteAround ? at - kQuoteAround : 0;
      end = std::min(text_.size(), at + kQuoteAround);
    }
    std::string out = begin > 0 ? "\"..." : "\"";
    for (const char c : text_.substr(begin, end - begin)) {
      out += static_cast<unsigned char>(c) < ' ' || c == 0x7f ? ' ' : c;
    }
    return out + (end < text_.size() ? "...\"" : "\"");
  }

  // --- Scanning ---

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }
  bool StartsWith(std::string_view s) const { return text_.substr(pos_, s.size()) == s; }

  // The label key (or keyword) starting at pos_; empty when none does.
  std::string_view Word() const {
    size_t end = pos_;
    while (end < text_.size() && IsKeyChar(text_[end])) ++end;
    return text_.substr(pos_, end - pos_);
  }

  void SkipSpace() {
    while (!AtEnd() && IsSpace(Peek())) ++pos_;
  }

  void Advance(size_t n) {
    pos_ += n;
    SkipSpace();
  }

  bool Accept(std::string_view token) {
    if (!StartsWith(token)) return false;
    Advance(token.size());
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
  Status error_;
};

bool Evaluate(const Node& node, const Labels& labels) {
  switch (node.op) {
    case Op::kAll:
    case Op::kGlobal:
      return true;
    case Op::kNot:
      return !Evaluate(*node.operands[0], labels);
    case Op::kAnd:
      for (const auto& operand : node.operands) {
        if (!Evaluate(*operand, labels)) return false;
      }
      return true;
    case Op::kOr:
      for (const auto& operand : node.operands) {
        if (Evaluate(*operand, labels)) return true;
      }
      return false;
    default:
      break;
  }
  const auto it = labels.find(node.key);
  const bool present = it != labels.end();
  switch (node.op) {
    case Op::kHas:
      return present;
    // As in Calico, the negative tests hold for an absent label, the
    // positive ones (including the string tests) do not.
    case Op::kEq:
      return present && it->second == node.values[0];
    case Op::kNe:
      return !present || it->second != node.values[0];
    case Op::kIn:
      return present && std::binary_search(node.values.begin(), node.values.end(), it->second);
    case Op::kNotIn:
      return !present || !std::binary_search(node.values.begin(), node.values.end(), it->second);
    case Op::kContains:
      return present && it->second.find(node.values[0]) != std::string::npos;
    case Op::kStartsWith:
      return present && it->second.compare(0, node.values[0].size(), node.values[0]) == 0;
    case Op::kEndsWith: {
      if (!present) return false;
      const std::string& value = it->second;
      const std::string& suffix = node.values[0];
      return value.size() >= suffix.size() &&
             value.compare(value.size() - suffix.size(), suffix.size(), suffix) == 0;
    }
    default:
      return false;
  }
}

// Whether a node holds whatever the labels: IsAll() must never claim
// "everything" wrongly, so anything that depends on a label is kDepends.
enum class Constancy { kAlways, kNever, kDepends };

Constancy Fold(const Node& node) {
  switch (node.op) {
    case Op::kAll:
    case Op::kGlobal:
      return Constancy::kAlways;
    case Op::kIn:
      return node.values.empty() ? Constancy::kNever : Constancy::kDepends;
    case Op::kNotIn:
      return node.values.empty() ? Constancy::kAlways : Constancy::kDepends;
    case Op::kNot: {
      const Constancy c = Fold(*node.operands[0]);
      return c == Constancy::kAlways ? Constancy::kNever
             : c == Constancy::kNever ? Constancy::kAlways
                                      : Constancy::kDepends;
    }
    case Op::kAnd:
    case Op::kOr: {
      // An && is decided by one kNever, an || by one kAlways; with none,
      // it is constant only when every operand is the other constant.
      const Constancy decisive = node.op == Op::kAnd ? Constancy::kNever : Constancy::kAlways;
      bool all_neutral = true;
      for (const auto& operand : node.operands) {
        const Constancy c = Fold(*operand);
        if (c == decisive) return decisive;
        if (c == Constancy::kDepends) all_neutral = false;
      }
      if (!all_neutral) return Constancy::kDepends;
      return decisive == Constancy::kNever ? Constancy::kAlways : Constancy::kNever;
    }
    default:
      return Constancy::kDepends;
  }
}

// Double quotes unless the value holds one (a parsed value cannot hold both).
void PrintValue(const std::string& value, std::string* out) {
  const char quote = value.find('"') == std::string::npos ? '"' : '\'';
  *out += quote;
  *out += value;
  *out += quote;
}

// The canonical text: fixed spacing, and parentheses around every && or ||
// inside another operator (and around a negation inside a negation, since
// "!!" would read back as no negation at all), so that the text parses back
// to the same tree.
void Print(const Node& node, std::string* out) {
  switch (node.op) {
    case Op::kAll: *out += "all()"; return;
    case Op::kGlobal: *out += "global()"; return;
    case Op::kHas: *out += "has(" + node.key + ")"; return;
    case Op::kIn:
    case Op::kNotIn:
      *out += node.key + (node.op == Op::kIn ? " in {" : " not in {");
      for (size_t i = 0; i < node.values.size(); ++i) {
        if (i > 0) *out += ", ";
        PrintValue(node.values[i], out);
      }
      *out += "}";
      return;
    case Op::kNot: {
      const Node& operand = *node.operands[0];
      const bool wrap = operand.op == Op::kAnd || operand.op == Op::kOr || operand.op == Op::kNot;
      *out += wrap ? "!(" : "!";
      Print(operand, out);
      if (wrap) *out += ")";
      return;
    }
    case Op::kAnd:
    case Op::kOr:
      for (size_t i = 0; i < node.operands.size(); ++i) {
        if (i > 0) *out += node.op == Op::kAnd ? " && " : " || ";
        const Node& operand = *node.operands[i];
        const bool wrap = operand.op == Op::kAnd || operand.op == Op::kOr;
        if (wrap) *out += "(";
        Print(operand, out);
        if (wrap) *out += ")";
      }
      return;
    default:
      break;
  }
  const char* op = node.op == Op::kEq           ? " == "
                   : node.op == Op::kNe         ? " != "
                   : node.op == Op::kContains   ? " contains "
                   : node.op == Op::kStartsWith ? " starts with "
                                                : " ends with ";
  *out += node.key + op;
  PrintValue(node.values[0], out);
}

void CollectKeys(const Node& node, std::set<std::string>* keys) {
  if (!node.key.empty()) keys->insert(node.key);
  for (const auto& operand : node.operands) CollectKeys(*operand, keys);
}

bool ContainsGlobal(const Node& node) {
  if (node.op == Op::kGlobal) return true;
  return std::any_of(node.operands.begin(), node.operands.end(),
                     [](const auto& operand) { return ContainsGlobal(*operand); });
}

}  // namespace

Selector::Selector() : Selector(std::make_shared<Node>()) {}

Selector::Selector(std::shared_ptr<const Node> root) : root_(std::move(root)) {
  std::set<std::string> keys;
  CollectKeys(*root_, &keys);
  keys_.assign(keys.begin(), keys.end());
  Print(*root_, &text_);
}

StatusOr<Selector> Selector::Parse(std::string_view text) {
  if (text.size() > kMaxLength) {
    return InvalidArgument("the selector is " + std::to_string(text.size()) + " characters long; at most " +
                           std::to_string(kMaxLength) + " are accepted; select by fewer, broader labels");
  }
  Parser parser(text);
  NodePtr root = parser.ParseText();
  if (!root) return parser.error();
  Selector selector{std::shared_ptr<const Node>(std::move(root))};
  // The canonical text adds spaces and parentheses; it must stay within the
  // limit too, or ToString() would not parse back.
  if (selector.text_.size() > kMaxLength) {
    return InvalidArgument("the selector is " + std::to_string(selector.text_.size()) +
                           " characters long in canonical form (spaced and parenthesized); at most " +
                           std::to_string(kMaxLength) + " are accepted; select by fewer, broader labels");
  }
  return StatusOr<Selector>(std::move(selector));
}

// Kubernetes validation keeps keys and values inside Calico's syntax; one
// that is not (a value holding both kinds of quote) still matches rightly,
// but ToString() cannot then be parsed back.
Selector Selector::FromLabelSelector(const model::LabelSelector& selector) {
  std::vector<NodePtr> terms;
  for (const auto& [key, value] : selector.match_labels) terms.push_back(Leaf(Op::kEq, key, {value}));
  for (const model::LabelSelectorRequirement& r : selector.match_expressions) {
    if (r.op == "In") {
      terms.push_back(SetLeaf(Op::kIn, r.key, r.values));
    } else if (r.op == "NotIn") {
      terms.push_back(SetLeaf(Op::kNotIn, r.key, r.values));
    } else if (r.op == "Exists") {
      terms.push_back(Leaf(Op::kHas, r.key));
    } else if (r.op == "DoesNotExist") {
      terms.push_back(Negation(Leaf(Op::kHas, r.key)));
    }
    // Another operator is skipped, as model::Matches skips it (the loader
    // refuses it before it gets here).
  }
  if (terms.empty()) return Selector();
  return Selector(std::shared_ptr<const Node>(Chain(Op::kAnd, std::move(terms))));
}

bool Selector::Matches(const Labels& labels) const { return Evaluate(*root_, labels); }

bool Selector::IsAll() const { return Fold(*root_) == Constancy::kAlways; }

bool Selector::HasGlobal() const { return ContainsGlobal(*root_); }

std::string Selector::ToString() const { return text_; }

}  // namespace edgebed::policy

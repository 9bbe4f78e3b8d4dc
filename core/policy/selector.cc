#include "core/policy/selector.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace edgebed::policy {

// The expression tree. Leaves test one label; inner nodes combine.
struct Selector::Node {
  enum class Op : uint8_t {
    kAll, kGlobal, kHas, kEq, kNe, kIn, kNotIn, kContains, kStartsWith, kEndsWith,
    kNot, kAnd, kOr,
  };
  Op op = Op::kAll;
  std::string key;
  std::vector<std::string> values;  // kEq..kEndsWith: one; kIn, kNotIn: sorted, unique
  std::vector<std::shared_ptr<const Node>> children;  // kNot: one; kAnd, kOr: two or more
};

namespace {

using Node = Selector::Node;
using Op = Node::Op;
using NodePtr = std::shared_ptr<const Node>;

bool IsKeyChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '/' ||
         c == '-';
}

// Recursive descent over the text; every error says where and what was expected.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  StatusOr<NodePtr> ParseAll() {
    SkipSpace();
    if (pos_ == text_.size()) return MakeLeaf(Op::kAll, "", {});
    StatusOr<NodePtr> root = ParseOr(0);
    if (!root.ok()) return root;
    SkipSpace();
    if (pos_ != text_.size()) return Error("expected && or || or the end of the selector");
    return root;
  }

 private:
  static NodePtr MakeLeaf(Op op, std::string key, std::vector<std::string> values) {
    auto n = std::make_shared<Node>();
    n->op = op;
    n->key = std::move(key);
    n->values = std::move(values);
    return n;
  }

  Status Error(const std::string& expected) const {
    return InvalidArgument("\"" + std::string(text_) + "\": at character " +
                           std::to_string(pos_ + 1) + ": " + expected);
  }

  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }

  // Consumes `token` (after spaces) if it is next.
  bool Accept(std::string_view token) {
    SkipSpace();
    if (text_.substr(pos_, token.size()) != token) return false;
    pos_ += token.size();
    return true;
  }

  // Consumes the word `word` if it is next and not the start of a longer key.
  bool AcceptWord(std::string_view word) {
    SkipSpace();
    if (text_.substr(pos_, word.size()) != word) return false;
    const size_t end = pos_ + word.size();
    if (end < text_.size() && IsKeyChar(text_[end])) return false;
    pos_ = end;
    return true;
  }

  StatusOr<NodePtr> Combine(Op op, int depth, StatusOr<NodePtr> (Parser::*next)(int),
                            std::string_view token) {
    StatusOr<NodePtr> first = (this->*next)(depth);
    if (!first.ok()) return first;
    std::vector<NodePtr> parts = {*first};
    while (Accept(token)) {
      StatusOr<NodePtr> more = (this->*next)(depth);
      if (!more.ok()) return more;
      parts.push_back(*more);
    }
    if (parts.size() == 1) return parts[0];
    auto n = std::make_shared<Node>();
    n->op = op;
    n->children = std::move(parts);
    return NodePtr(n);
  }

  StatusOr<NodePtr> ParseOr(int depth) { return Combine(Op::kOr, depth, &Parser::ParseAnd, "||"); }
  StatusOr<NodePtr> ParseAnd(int depth) { return Combine(Op::kAnd, depth, &Parser::ParseUnary, "&&"); }

  StatusOr<NodePtr> ParseUnary(int depth) {
    if (depth >= Selector::kMaxDepth) {
      return Error("nesting deeper than " + std::to_string(Selector::kMaxDepth) +
                   " levels; simplify the selector");
    }
    SkipSpace();
    if (text_.substr(pos_, 2) == "!=") return Error("expected a label key before '!='");
    if (Accept("!")) {
      StatusOr<NodePtr> inner = ParseUnary(depth + 1);
      if (!inner.ok()) return inner;
      auto n = std::make_shared<Node>();
      n->op = Op::kNot;
      n->children = {*inner};
      return NodePtr(n);
    }
    if (Accept("(")) {
      StatusOr<NodePtr> inner = ParseOr(depth + 1);
      if (!inner.ok()) return inner;
      if (!Accept(")")) return Error("expected ')' to close the '('");
      return inner;
    }
    return ParseTerm();
  }

  StatusOr<std::string> ParseKey() {
    SkipSpace();
    const size_t start = pos_;
    while (pos_ < text_.size() && IsKeyChar(text_[pos_])) ++pos_;
    if (pos_ == start) {
      return Error(pos_ == text_.size()
                       ? "the selector ends where a term was expected (a label key, has(key), "
                         "all(), '!' or '(')"
                       : "expected a label key, has(key), all(), '!' or '('");
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  StatusOr<std::string> ParseString() {
    SkipSpace();
    if (pos_ == text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) {
      return Error("expected a quoted string ('value' or \"value\")");
    }
    const char quote = text_[pos_];
    const size_t end = text_.find(quote, pos_ + 1);
    if (end == std::string_view::npos) {
      return Error(std::string("the string is not closed; add the closing ") + quote);
    }
    std::string value(text_.substr(pos_ + 1, end - pos_ - 1));
    pos_ = end + 1;
    return value;
  }

  StatusOr<NodePtr> ParseTerm() {
    StatusOr<std::string> key = ParseKey();
    if (!key.ok()) return key.status();
    // Functions: all(), global(), has(key).
    if (*key == "all" || *key == "global" || *key == "has") {
      if (Accept("(")) {
        if (*key == "has") {
          StatusOr<std::string> inner = ParseKey();
          if (!inner.ok()) return inner.status();
          if (!Accept(")")) return Error("expected ')' after has(" + *inner);
          return MakeLeaf(Op::kHas, *inner, {});
        }
        if (!Accept(")")) return Error("expected ')': " + *key + "() takes no argument");
        return MakeLeaf(*key == "all" ? Op::kAll : Op::kGlobal, "", {});
      }
    }
    if (Accept("==")) return Compare(Op::kEq, *key);
    if (Accept("!=")) return Compare(Op::kNe, *key);
    if (AcceptWord("contains")) return Compare(Op::kContains, *key);
    if (AcceptWord("starts")) {
      if (!AcceptWord("with")) return Error("expected 'with' after 'starts'");
      return Compare(Op::kStartsWith, *key);
    }
    if (AcceptWord("ends")) {
      if (!AcceptWord("with")) return Error("expected 'with' after 'ends'");
      return Compare(Op::kEndsWith, *key);
    }
    if (AcceptWord("in")) return Set(Op::kIn, *key);
    if (AcceptWord("not")) {
      if (!AcceptWord("in")) return Error("expected 'in' after 'not'");
      return Set(Op::kNotIn, *key);
    }
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == '=') {
      return Error("expected '==' (a single '=' is not an operator)");
    }
    return Error("expected an operator after '" + *key +
                 "': ==, !=, in, not in, contains, starts with, ends with");
  }

  StatusOr<NodePtr> Compare(Op op, const std::string& key) {
    StatusOr<std::string> value = ParseString();
    if (!value.ok()) return value.status();
    return MakeLeaf(op, key, {*value});
  }

  StatusOr<NodePtr> Set(Op op, const std::string& key) {
    if (!Accept("{")) return Error("expected '{' to open the set of values");
    std::vector<std::string> values;
    if (!Accept("}")) {
      while (true) {
        StatusOr<std::string> value = ParseString();
        if (!value.ok()) return value.status();
        values.push_back(*value);
        if (Accept("}")) break;
        if (!Accept(",")) return Error("expected ',' or '}' in the set of values");
      }
    }
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    return MakeLeaf(op, key, std::move(values));
  }

  std::string_view text_;
  size_t pos_ = 0;
};

bool Evaluate(const Node& n, const Labels& labels) {
  switch (n.op) {
    case Op::kAll:
    case Op::kGlobal:
      return true;
    case Op::kNot:
      return !Evaluate(*n.children[0], labels);
    case Op::kAnd:
      return std::all_of(n.children.begin(), n.children.end(),
                         [&](const NodePtr& c) { return Evaluate(*c, labels); });
    case Op::kOr:
      return std::any_of(n.children.begin(), n.children.end(),
                         [&](const NodePtr& c) { return Evaluate(*c, labels); });
    default:
      break;
  }
  const auto it = labels.find(n.key);
  const bool present = it != labels.end();
  switch (n.op) {
    case Op::kHas: return present;
    case Op::kEq: return present && it->second == n.values[0];
    case Op::kNe: return !present || it->second != n.values[0];
    case Op::kIn:
      return present && std::binary_search(n.values.begin(), n.values.end(), it->second);
    case Op::kNotIn:
      return !present || !std::binary_search(n.values.begin(), n.values.end(), it->second);
    case Op::kContains: return present && it->second.find(n.values[0]) != std::string::npos;
    case Op::kStartsWith: return present && it->second.compare(0, n.values[0].size(), n.values[0]) == 0;
    case Op::kEndsWith:
      return present && it->second.size() >= n.values[0].size() &&
             it->second.compare(it->second.size() - n.values[0].size(), n.values[0].size(),
                                n.values[0]) == 0;
    default:
      return false;
  }
}

std::string Quote(const std::string& value) {
  // Values hold no quote of the kind that delimits them, so one of the two
  // kinds always fits.
  return value.find('"') == std::string::npos ? "\"" + value + "\"" : "'" + value + "'";
}

// Prints with the parentheses the tree needs: || inside && and any
// combination under ! are wrapped.
std::string Print(const Node& n) {
  switch (n.op) {
    case Op::kAll: return "all()";
    case Op::kGlobal: return "global()";
    case Op::kHas: return "has(" + n.key + ")";
    case Op::kEq: return n.key + " == " + Quote(n.values[0]);
    case Op::kNe: return n.key + " != " + Quote(n.values[0]);
    case Op::kContains: return n.key + " contains " + Quote(n.values[0]);
    case Op::kStartsWith: return n.key + " starts with " + Quote(n.values[0]);
    case Op::kEndsWith: return n.key + " ends with " + Quote(n.values[0]);
    case Op::kIn:
    case Op::kNotIn: {
      std::string s = n.key + (n.op == Op::kIn ? " in {" : " not in {");
      for (size_t i = 0; i < n.values.size(); ++i) s += (i ? ", " : "") + Quote(n.values[i]);
      return s + "}";
    }
    case Op::kNot: {
      const Node& c = *n.children[0];
      const bool wrap = c.op == Op::kAnd || c.op == Op::kOr;
      return "!" + (wrap ? "(" + Print(c) + ")" : Print(c));
    }
    case Op::kAnd:
    case Op::kOr: {
      std::string s;
      for (size_t i = 0; i < n.children.size(); ++i) {
        const Node& c = *n.children[i];
        // Operands of the same operator are wrapped too, so the printed text
        // parses back to the same tree shape.
        const bool wrap = c.op == Op::kOr || c.op == Op::kAnd;
        if (i) s += n.op == Op::kAnd ? " && " : " || ";
        s += wrap ? "(" + Print(c) + ")" : Print(c);
      }
      return s;
    }
  }
  return "";
}

void CollectKeys(const Node& n, std::set<std::string>* keys) {
  if (!n.key.empty()) keys->insert(n.key);
  for (const NodePtr& c : n.children) CollectKeys(*c, keys);
}

bool ContainsGlobal(const Node& n) {
  if (n.op == Op::kGlobal) return true;
  return std::any_of(n.children.begin(), n.children.end(),
                     [](const NodePtr& c) { return ContainsGlobal(*c); });
}

}  // namespace

Selector::Selector() : Selector(std::make_shared<Node>()) {}

Selector::Selector(std::shared_ptr<const Node> root) : root_(std::move(root)) {
  std::set<std::string> keys;
  CollectKeys(*root_, &keys);
  keys_.assign(keys.begin(), keys.end());
  text_ = Print(*root_);
}

StatusOr<Selector> Selector::Parse(std::string_view text) {
  if (text.size() > kMaxLength) {
    return InvalidArgument("the selector is " + std::to_string(text.size()) +
                           " characters long; at most " + std::to_string(kMaxLength) +
                           " are accepted");
  }
  StatusOr<NodePtr> root = Parser(text).ParseAll();
  if (!root.ok()) return root.status();
  return Selector(*std::move(root));
}

Selector Selector::FromLabelSelector(const model::LabelSelector& selector) {
  std::vector<NodePtr> terms;
  const auto leaf = [](Op op, const std::string& key, std::vector<std::string> values) {
    auto n = std::make_shared<Node>();
    n->op = op;
    n->key = key;
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    n->values = std::move(values);
    return NodePtr(n);
  };
  for (const auto& [key, value] : selector.match_labels) terms.push_back(leaf(Op::kEq, key, {value}));
  for (const model::LabelSelectorRequirement& r : selector.match_expressions) {
    if (r.op == "In") {
      terms.push_back(leaf(Op::kIn, r.key, r.values));
    } else if (r.op == "NotIn") {
      terms.push_back(leaf(Op::kNotIn, r.key, r.values));
    } else if (r.op == "Exists") {
      terms.push_back(leaf(Op::kHas, r.key, {}));
    } else if (r.op == "DoesNotExist") {
      auto n = std::make_shared<Node>();
      n->op = Op::kNot;
      n->children = {leaf(Op::kHas, r.key, {})};
      terms.push_back(n);
    }
  }
  if (terms.empty()) return Selector();
  if (terms.size() == 1) return Selector(terms[0]);
  auto n = std::make_shared<Node>();
  n->op = Op::kAnd;
  n->children = std::move(terms);
  return Selector(NodePtr(n));
}

bool Selector::Matches(const Labels& labels) const { return Evaluate(*root_, labels); }

bool Selector::IsAll() const { return root_->op == Op::kAll || root_->op == Op::kGlobal; }

bool Selector::HasGlobal() const { return ContainsGlobal(*root_); }

std::string Selector::ToString() const { return text_; }

}  // namespace edgebed::policy

// Label selectors: Calico's expression language, and Kubernetes'
// metav1.LabelSelector translated into it, so the policy engine matches one
// kind of selector.
//
//   StatusOr<Selector> s = Selector::Parse("role == 'db' && floor in {'1', '2'}");
//   if (s.ok() && s->Matches(pod_labels)) ...
//
// The grammar is Calico's (projectcalico.org/v3 selectors):
//   expr   := or
//   or     := and ('||' and)*
//   and    := unary ('&&' unary)*
//   unary  := '!' unary | '(' expr ')' | term
//   term   := 'all()' | 'global()' | 'has(' key ')'
//           | key '==' str | key '!=' str
//           | key 'in' '{' [str (',' str)*] '}' | key 'not' 'in' '{' ... '}'
//           | key 'contains' str | key 'starts' 'with' str | key 'ends' 'with' str
//   key    := [A-Za-z0-9_./-]+     str := '...' | "..."
// An empty or all-blank text is all(). As in Calico, '!=' and 'not in' also
// match when the label is absent; 'notin', 'startswith' and 'endswith' may be
// written as one word; a set may end in a comma; and a run of '!' folds into
// one negation or none, so only parentheses count toward kMaxDepth. global() matches everything here; it means
// "non-namespaced endpoints" only as a namespaceSelector, where the policy
// engine interprets it (see HasGlobal()).
//
// A Selector is an immutable value; Matches() allocates nothing.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/base/status.h"
#include "core/model/objects.h"

namespace edgebed::policy {

using model::Labels;

class Selector {
 public:
  // all().
  Selector();

  // Parses Calico's syntax. On error, kInvalidArgument whose message quotes
  // the text, says at which character (1-based) and what was expected, e.g.
  //   "role == db": at character 9: expected a quoted string ('db' or "db")
  // Texts over kMaxLength characters or nesting over kMaxDepth are refused.
  static StatusOr<Selector> Parse(std::string_view text);
  static constexpr size_t kMaxLength = 64 * 1024;
  static constexpr int kMaxDepth = 128;

  // A Kubernetes LabelSelector: matchLabels ANDed with matchExpressions
  // (In, NotIn, Exists, DoesNotExist). Empty selects everything. Kubernetes'
  // NotIn, like Calico's 'not in', matches an absent label, so the
  // translation is word for word.
  static Selector FromLabelSelector(const model::LabelSelector& selector);

  bool Matches(const Labels& labels) const;

  bool IsAll() const;       // selects everything, whatever the labels
  bool HasGlobal() const;   // global() appears in it
  // The label keys it reads, sorted and unique: an index of endpoints by
  // these keys finds every endpoint a label change can affect.
  const std::vector<std::string>& keys() const { return keys_; }

  // A canonical text that Parse() reads back to an equal selector; equal
  // selectors (the same expression tree) print the same.
  std::string ToString() const;
  bool operator==(const Selector& other) const { return ToString() == other.ToString(); }

  struct Node;  // the expression tree; defined in selector.cc

 private:
  explicit Selector(std::shared_ptr<const Node> root);
  std::shared_ptr<const Node> root_;
  std::vector<std::string> keys_;
  std::string text_;  // ToString(), computed once
};

}  // namespace edgebed::policy

#include "pointer.h"

namespace rtc {

namespace {

// Returns false on a '~' not followed by '0' or '1'.
bool unescapeInto(std::string_view raw, std::string& out) {
  out.clear();
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (c != '~') {
      out.push_back(c);
      continue;
    }
    if (i + 1 >= raw.size()) return false;
    char n = raw[++i];
    if (n == '0') out.push_back('~');
    else if (n == '1') out.push_back('/');
    else return false;
  }
  return true;
}

}  // namespace

Tokens parsePointer(std::string_view pointer) {
  Tokens tokens;
  if (pointer.empty()) return tokens;
  if (pointer[0] != '/') throw Error(codes::kInvalidPointer, "invalid JSON pointer: must be empty or start with \"/\"");
  std::size_t start = 1;
  for (;;) {
    std::size_t slash = pointer.find('/', start);
    std::string_view raw = pointer.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    tokens.emplace_back();
    if (!unescapeInto(raw, tokens.back())) {
      throw Error(codes::kInvalidPointer, "invalid JSON pointer: \"~\" must be followed by \"0\" or \"1\"");
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return tokens;
}

bool isValidPointer(std::string_view pointer) {
  if (pointer.empty()) return true;
  if (pointer[0] != '/') return false;
  for (std::size_t i = 0; i < pointer.size(); ++i) {
    if (pointer[i] == '~' && (i + 1 >= pointer.size() || (pointer[i + 1] != '0' && pointer[i + 1] != '1'))) return false;
  }
  return true;
}

void appendToken(std::string& path, std::string_view token) {
  path.push_back('/');
  for (char c : token) {
    if (c == '~') path.append("~0");
    else if (c == '/') path.append("~1");
    else path.push_back(c);
  }
}

std::string childPath(const std::string& path, std::string_view token) {
  std::string out;
  out.reserve(path.size() + token.size() + 1);
  out.append(path);
  appendToken(out, token);
  return out;
}

std::string childPath(const std::string& path, std::size_t index) {
  std::string out = path;
  out.push_back('/');
  out.append(std::to_string(index));
  return out;
}

std::string formatPointer(const Tokens& tokens, std::size_t count) {
  std::string out;
  for (std::size_t i = 0; i < count && i < tokens.size(); ++i) appendToken(out, tokens[i]);
  return out;
}

const Json* resolve(const Json& root, const std::string* tokens, std::size_t count) {
  const Json* cur = &root;
  for (std::size_t i = 0; i < count; ++i) {
    const std::string& t = tokens[i];
    if (cur->is_object()) {
      cur = objGet(*cur, t);
      if (!cur) return nullptr;
    } else if (cur->is_array()) {
      std::size_t idx;
      const Array& a = cur->get_ref<const Array&>();
      if (!parseArrayIndexToken(t, &idx) || idx >= a.size()) return nullptr;
      cur = &a[idx];
    } else {
      return nullptr;
    }
  }
  return cur;
}

Json* resolve(Json& root, const Tokens& tokens, std::size_t count) {
  return const_cast<Json*>(resolve(static_cast<const Json&>(root), tokens, count));
}

}  // namespace rtc

#include "kbus/value.hpp"

#include "kbus/types.hpp"

#include <bit>
#include <string>

namespace kbus {

value value::float64(double v) { return scalar("d", std::bit_cast<std::uint64_t>(v)); }

double value::as_double() const noexcept { return std::bit_cast<double>(bits_); }

value value::array(std::string_view element_type, std::vector<value> elements) {
  value v;
  v.type_ = "a";
  v.type_ += element_type;
  v.items_ = std::move(elements);
  return v;
}

value value::structure(std::vector<value> fields) {
  value v;
  v.type_ = "(";
  for (const auto& f : fields) v.type_ += f.type();
  v.type_ += ')';
  v.items_ = std::move(fields);
  return v;
}

value value::dict_entry(value key, value val) {
  value v;
  v.type_ = "{";
  v.type_ += key.type();
  v.type_ += val.type();
  v.type_ += '}';
  v.items_.reserve(2);
  v.items_.push_back(std::move(key));
  v.items_.push_back(std::move(val));
  return v;
}

value value::variant(value contained) {
  value v;
  v.type_ = "v";
  v.items_.push_back(std::move(contained));
  return v;
}

namespace detail {
namespace {

bool mismatch(error& err, std::string_view expected, const value& v) {
  err = error(errc::type_mismatch,
              "value of type '" + std::string(v.type()) + "' where '" + std::string(expected) + "' is expected");
  return false;
}

// Containers entered so far. Variants restart the signature but not the nesting limits, so the
// encoder counts as reader::enter does and never writes what a receiver must refuse.
struct nesting {
  int arrays = 0;
  int structs = 0;
  int all = 0;  // arrays + structs + variants
};

bool enter(nesting& n, char container, error& err) {
  if (container == 'a' && ++n.arrays > max_array_depth) {
    err = error(errc::nesting_too_deep, "more than 32 nested arrays");
    return false;
  }
  if ((container == '(' || container == '{') && ++n.structs > max_struct_depth) {
    err = error(errc::nesting_too_deep, "more than 32 nested structs");
    return false;
  }
  if (++n.all > max_total_depth) {
    err = error(errc::nesting_too_deep, "more than 64 nested containers");
    return false;
  }
  return true;
}

void leave(nesting& n, char container) noexcept {
  if (container == 'a') --n.arrays;
  if (container == '(' || container == '{') --n.structs;
  --n.all;
}

bool encode_typed(writer& w, const value& v, std::string_view type, std::size_t& i, nesting& depth, error& err);

// Writes the contents of container `v` (type `want`, code `c`) one level deeper.
bool encode_container(writer& w, const value& v, std::string_view want, char c, nesting& depth, error& err);

// Writes `v`, which must have the complete type type[i..]; advances i.
bool encode_typed(writer& w, const value& v, std::string_view type, std::size_t& i, nesting& depth, error& err) {
  const std::size_t end = complete_type_end(type, i);
  const std::string_view want = type.substr(i, end - i);
  if (v.type() != want) return mismatch(err, want, v);
  const char c = type[i];
  i = end;
  switch (c) {
    case 'y': w.put_byte(static_cast<std::uint8_t>(v.as_uint())); return true;
    case 'b':
      if (v.as_uint() > 1) {
        err = error(errc::invalid_boolean, "boolean value is not 0 or 1");
        return false;
      }
      w.put(static_cast<std::uint32_t>(v.as_uint()));
      return true;
    case 'n': case 'q': w.put(static_cast<std::uint16_t>(v.as_uint())); return true;
    case 'i': case 'u': w.put(static_cast<std::uint32_t>(v.as_uint())); return true;
    case 'h':
      if (v.as_uint() > 0xffffffffu) return mismatch(err, want, v);
      w.put(static_cast<std::uint32_t>(v.as_uint()));
      return true;
    case 'x': case 't': case 'd': w.put(v.as_uint()); return true;
    case 's':
      if (const auto& text = v.as_string(); !is_plain_ascii(text.data(), text.size()) && !check_string_text(text)) {
        const bool nul = v.as_string().find('\0') != std::string::npos;
        err = nul ? error(errc::string_contains_nul, "string contains a NUL byte")
                  : error(errc::invalid_utf8, "string is not valid UTF-8");
        return false;
      }
      w.put_string(v.as_string());
      return true;
    case 'o':
      if (auto ok = check_object_path(v.as_string()); !ok) {
        err = name_error("object path", v.as_string(), ok);
        return false;
      }
      w.put_string(v.as_string());
      return true;
    case 'g':
      if (auto ok = check_signature(v.as_string()); !ok) {
        err = name_error("signature", v.as_string(), ok);
        return false;
      }
      w.put_signature(v.as_string());
      return true;
    case 'v':
    case 'a':
    case '(':
    case '{': {
      if (!enter(depth, c, err)) return false;
      const bool ok = encode_container(w, v, want, c, depth, err);
      leave(depth, c);
      return ok;
    }
    default:
      return mismatch(err, want, v);
  }
}

bool decode_typed(reader& r, std::string_view type, std::size_t& i, value& out) {
  const char c = type[i];
  switch (c) {
    case 'y': {
      std::uint8_t v{};
      ++i;
      if (!r.get(v)) return false;
      out = value::byte(v);
      return true;
    }
    case 'b': {
      bool v{};
      ++i;
      if (!r.get_bool(v)) return false;
      out = value::boolean(v);
      return true;
    }
    case 'n': {
      std::int16_t v{};
      ++i;
      if (!r.get(v)) return false;
      out = value::int16(v);
      return true;
    }
    case 'q': {
      std::uint16_t v{};
      ++i;
      if (!r.get(v)) return false;
      out = value::uint16(v);
      return true;
    }
    case 'i': {
      std::int32_t v{};
      ++i;
      if (!r.get(v)) return false;
      out = value::int32(v);
      return true;
    }
    case 'u': {
      std::uint32_t v{};
      ++i;
      if (!r.get(v)) return false;
      out = value::uint32(v);
      return true;
    }
    case 'h': {
      std::uint32_t v{};
      ++i;
      if (!r.get_unix_fd(v)) return false;
      out = value::unix_fd_index(v);
      return true;
    }
    case 'x': {
      std::int64_t v{};
      ++i;
      if (!r.get(v)) return false;
      out = value::int64(v);
      return true;
    }
    case 't': {
      std::uint64_t v{};
      ++i;
      if (!r.get(v)) return false;
      out = value::uint64(v);
      return true;
    }
    case 'd': {
      double v{};
      ++i;
      if (!r.get(v)) return false;
      out = value::float64(v);
      return true;
    }
    case 's': {
      std::string_view v;
      ++i;
      if (!r.get_string(v, 's')) return false;
      out = value::string(v);
      return true;
    }
    case 'o': {
      std::string_view v;
      ++i;
      if (!r.get_string(v, 'o')) return false;
      out = value::path(object_path::unchecked(v));
      return true;
    }
    case 'g': {
      std::string_view v;
      ++i;
      if (!r.get_signature(v)) return false;
      out = value::sig(signature::unchecked(v));
      return true;
    }
    case 'v': {
      ++i;
      std::string_view inner;
      if (!r.get_signature(inner)) return false;
      if (!is_single_complete_type(inner))
        return r.fail(errc::invalid_signature,
                      std::string("variant signature '") + std::string(inner) + "': " + check_single_type(inner).reason);
      if (!r.enter('v')) return false;
      value contained;
      std::size_t j = 0;
      if (!decode_typed(r, inner, j, contained)) return false;
      r.leave('v');
      out = value::variant(std::move(contained));
      return true;
    }
    case 'a': {
      const std::size_t elem = i + 1;
      const std::size_t elem_end = scan_complete_type(type, i).end;  // the whole array type
      std::size_t end;
      if (!r.begin_array(alignment_of_code(type[elem]), end)) return false;
      std::vector<value> items;
      while (r.position() < end) {
        std::size_t j = elem;
        value e;
        if (!decode_typed(r, type, j, e)) return false;
        items.push_back(std::move(e));
      }
      if (!r.end_array(end)) return false;
      out = value::array(type.substr(elem, elem_end - elem), std::move(items));
      i = elem_end;
      return true;
    }
    case '(':
    case '{': {
      const char close = c == '(' ? ')' : '}';
      if (!r.enter(c) || !r.align(8)) return false;
      ++i;
      std::vector<value> fields;
      while (type[i] != close) {
        value f;
        if (!decode_typed(r, type, i, f)) return false;
        fields.push_back(std::move(f));
      }
      ++i;
      r.leave(c);
      if (c == '(') {
        out = value::structure(std::move(fields));
      } else {
        out = value::dict_entry(std::move(fields[0]), std::move(fields[1]));
      }
      return true;
    }
    default:
      return r.fail(errc::invalid_signature, std::string("unknown type code '") + c + "'");
  }
}

bool encode_container(writer& w, const value& v, std::string_view want, char c, nesting& depth, error& err) {
  switch (c) {
    case 'v': {
      if (v.items().size() != 1) return mismatch(err, want, v);
      const value& inner = v.items()[0];
      if (auto ok = check_single_type(inner.type()); !ok) {
        err = name_error("variant signature", inner.type(), ok);
        return false;
      }
      w.put_signature(inner.type());
      std::size_t j = 0;
      return encode_typed(w, inner, inner.type(), j, depth, err);
    }
    case 'a': {
      const std::string_view elem = want.substr(1);
      auto token = w.begin_array(alignment_of_code(elem[0]));
      for (const auto& e : v.items()) {
        std::size_t j = 0;
        if (!encode_typed(w, e, elem, j, depth, err)) return false;
      }
      if (!w.end_array(token)) {
        err = error(errc::array_too_long, "array longer than 64 MiB");
        return false;
      }
      return true;
    }
    default: {  // ( or {
      w.align(8);
      std::size_t j = 1;
      for (const auto& f : v.items())
        if (!encode_typed(w, f, want, j, depth, err)) return false;
      if (j != want.size() - 1) return mismatch(err, want, v);
      return true;
    }
  }
}

}  // namespace

bool encode_value(writer& w, const value& v, error& err) {
  if (auto ok = check_single_type(v.type()); !ok) {
    err = name_error("value type", v.type(), ok);
    return false;
  }
  std::size_t i = 0;
  nesting depth;
  return encode_typed(w, v, v.type(), i, depth, err);
}

bool encode_values(writer& w, std::string_view sig, const std::vector<value>& values, error& err) {
  std::size_t i = 0;
  nesting depth;
  for (const auto& v : values) {
    if (i >= sig.size()) {
      err = error(errc::type_mismatch, "more values than the signature '" + std::string(sig) + "' has types");
      return false;
    }
    if (!encode_typed(w, v, sig, i, depth, err)) return false;
  }
  if (i != sig.size()) {
    err = error(errc::type_mismatch, "fewer values than the signature '" + std::string(sig) + "' has types");
    return false;
  }
  return true;
}

bool decode_value(reader& r, std::string_view type, value& out) {
  std::size_t i = 0;
  return decode_typed(r, type, i, out);
}

bool decode_values(reader& r, std::string_view sig, std::vector<value>& out) {
  std::size_t i = 0;
  while (i < sig.size()) {
    value v;
    if (!decode_typed(r, sig, i, v)) return false;
    out.push_back(std::move(v));
  }
  return true;
}

}  // namespace detail

void detail::check_text_for_encoding(std::string_view s) {
  if (check_string_text(s)) return;
  if (s.find('\0') != std::string_view::npos)
    throw exception(error(errc::string_contains_nul, "a string to encode contains a NUL byte"));
  throw exception(error(errc::invalid_utf8, "a string to encode is not valid UTF-8"));
}

void detail::end_array_for_encoding(writer& w, writer::array_token token) {
  if (!w.end_array(token))
    throw exception(error(errc::array_too_long, "an array to encode exceeds the spec's 64 MiB limit"));
}

void codec<variant>::encode(detail::writer& w, const variant& v) {
  w.put_signature(v.type());
  // Typed encoding cannot fail on its own; only a hand-made kbus::value inside the variant
  // can be inconsistent, which is a programming error.
  if (error err; !detail::encode_value(w, v.get(), err)) throw exception(err);
}

bool codec<variant>::decode(detail::reader& r, variant& v) {
  std::string_view sig;
  if (!r.get_signature(sig)) return false;
  if (!detail::is_single_complete_type(sig))
    return r.fail(errc::invalid_signature,
                  std::string("variant signature '") + std::string(sig) + "': " + detail::check_single_type(sig).reason);
  if (!r.enter('v')) return false;
  if (!detail::decode_value(r, sig, v.get())) return false;
  r.leave('v');
  return true;
}

void codec<unix_fd>::encode(detail::writer& w, const unix_fd& fd) {
  // The message owns its own copy of the descriptor; the caller keeps theirs.
  std::uint32_t index = 0;
  if (w.fds) {
    index = static_cast<std::uint32_t>(w.fds->size());
    w.fds->push_back(fd.dup());
  }
  w.put(index);
}

bool codec<unix_fd>::decode(detail::reader& r, unix_fd& fd) {
  std::uint32_t index{};
  if (!r.get_unix_fd(index)) return false;
  fd = r.fd_table ? r.fd_table[index].dup() : unix_fd{};
  return true;
}

}  // namespace kbus

namespace kbus {

value::~value() {
  if (items_.empty()) return;
  std::vector<value> pending = std::move(items_);
  while (!pending.empty()) {
    value v = std::move(pending.back());
    pending.pop_back();
    for (auto& child : v.items_) pending.push_back(std::move(child));
    v.items_.clear();  // only emptied children are left: no recursion
  }
}

}  // namespace kbus

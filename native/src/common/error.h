// Errors carry the failing check, file and line; they are thrown, never aborted on.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace dn4j {

struct Error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... R>
void append(std::ostringstream& os, const T& v, const R&... rest) {
    os << v;
    append(os, rest...);
}
}  // namespace detail

template <typename... A>
[[noreturn]] void fail(const A&... parts) {
    std::ostringstream os;
    detail::append(os, parts...);
    throw Error(os.str());
}

}  // namespace dn4j

/** Throws dn4j::Error with the message parts when `cond` is false. */
#define DN_CHECK(cond, ...)                   \
    do {                                      \
        if (!(cond)) ::dn4j::fail(__VA_ARGS__); \
    } while (0)

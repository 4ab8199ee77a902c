#include "safetensors.h"

#include <cstring>
#include <fstream>
#include <stdexcept>

namespace dn4j::test {
namespace {

struct Json {
    const std::string& s;
    size_t i = 0;
    void ws() { while (i < s.size() && isspace(static_cast<unsigned char>(s[i]))) i++; }
    void expect(char c) {
        ws();
        if (i >= s.size() || s[i] != c) throw std::runtime_error(std::string("safetensors header: expected ") + c);
        i++;
    }
    bool peek(char c) { ws(); return i < s.size() && s[i] == c; }
    std::string str() {
        expect('"');
        std::string out;
        while (i < s.size() && s[i] != '"') {
            if (s[i] == '\\') i++;
            out += s[i++];
        }
        i++;
        return out;
    }
    std::vector<int64_t> ints() {
        std::vector<int64_t> v;
        expect('[');
        while (!peek(']')) {
            ws();
            size_t used = 0;
            v.push_back(std::stoll(s.substr(i, 24), &used));
            i += used;
            if (peek(',')) i++;
        }
        i++;
        return v;
    }
    void skip_value() {
        ws();
        if (s[i] == '"') { str(); return; }
        if (s[i] == '{' || s[i] == '[') {
            int depth = 0;
            bool in_str = false;
            for (; i < s.size(); i++) {
                char c = s[i];
                if (in_str) { if (c == '\\') i++; else if (c == '"') in_str = false; continue; }
                if (c == '"') in_str = true;
                else if (c == '{' || c == '[') depth++;
                else if (c == '}' || c == ']') { if (--depth == 0) { i++; return; } }
            }
            return;
        }
        while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']') i++;
    }
};

}  // namespace

namespace {

/** Calls `take(name, dtype, shape, bytes, count)` for every tensor of the file. */
template <typename Take>
void scan(const std::string& path, Take take) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    uint64_t hlen = 0;
    f.read(reinterpret_cast<char*>(&hlen), 8);
    if (!f || hlen > (1u << 28)) throw std::runtime_error(path + ": not a safetensors file");
    std::string header(hlen, '\0');
    f.read(&header[0], static_cast<std::streamsize>(hlen));
    std::vector<char> blob((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    Json j{header};
    j.expect('{');
    while (!j.peek('}')) {
        std::string name = j.str();
        j.expect(':');
        if (name == "__metadata__") {
            j.skip_value();
        } else {
            std::string dtype;
            std::vector<int64_t> shape, offs;
            j.expect('{');
            while (!j.peek('}')) {
                std::string k = j.str();
                j.expect(':');
                if (k == "dtype") dtype = j.str();
                else if (k == "shape") shape = j.ints();
                else if (k == "data_offsets") offs = j.ints();
                else j.skip_value();
                if (j.peek(',')) j.i++;
            }
            j.i++;
            if (offs.size() != 2 || offs[1] > static_cast<int64_t>(blob.size()) || offs[0] < 0 || offs[0] > offs[1])
                throw std::runtime_error(path + ": bad offsets for " + name);
            take(name, dtype, shape, blob.data() + offs[0], static_cast<size_t>(offs[1] - offs[0]));
        }
        if (j.peek(',')) j.i++;
    }
}

}  // namespace

std::map<std::string, HostTensor> read_safetensors(const std::string& path) {
    std::map<std::string, HostTensor> out;
    scan(path, [&](const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape,
                   const char* bytes, size_t len) {
        if (dtype != "F32") return;
        HostTensor t;
        t.shape = shape;
        t.data.resize(len / 4);
        std::memcpy(t.data.data(), bytes, t.data.size() * 4);
        out[name] = std::move(t);
    });
    return out;
}

std::map<std::string, HostTensorI64> read_safetensors_i64(const std::string& path) {
    std::map<std::string, HostTensorI64> out;
    scan(path, [&](const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape,
                   const char* bytes, size_t len) {
        if (dtype != "I64") return;
        HostTensorI64 t;
        t.shape = shape;
        t.data.resize(len / 8);
        std::memcpy(t.data.data(), bytes, t.data.size() * 8);
        out[name] = std::move(t);
    });
    return out;
}

}  // namespace dn4j::test

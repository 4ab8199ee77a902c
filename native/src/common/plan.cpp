#include "plan.h"

#include <sstream>

#include "error.h"

namespace dn4j {
namespace {

int parse_int(const std::string& v, const std::string& what, int line) {
    try {
        size_t used = 0;
        long x = std::stol(v, &used);
        DN_CHECK(used == v.size() && x >= -(1L << 30) && x <= (1L << 30), "");
        return static_cast<int>(x);
    } catch (const std::exception&) {
        fail("plan line ", line, ": ", what, "=", v, " is not an integer");
    }
}

std::map<std::string, std::string> parse_args(std::istringstream& in, int line) {
    std::map<std::string, std::string> args;
    std::string tok;
    while (in >> tok) {
        auto eq = tok.find('=');
        DN_CHECK(eq != std::string::npos && eq > 0, "plan line ", line, ": expected key=value, got '", tok, "'");
        args[tok.substr(0, eq)] = tok.substr(eq + 1);
    }
    return args;
}

}  // namespace

std::string PlanOp::str(const std::string& k) const {
    auto it = args.find(k);
    DN_CHECK(it != args.end(), "plan line ", line, ": op ", type, " needs ", k, "=");
    return it->second;
}
std::string PlanOp::str(const std::string& k, const std::string& d) const {
    auto it = args.find(k);
    return it == args.end() ? d : it->second;
}
int PlanOp::integer(const std::string& k) const { return parse_int(str(k), k, line); }
int PlanOp::integer(const std::string& k, int d) const { return has(k) ? integer(k) : d; }

Slice PlanOp::slice(const std::string& k) const {
    std::string v = str(k);
    Slice s;
    auto c1 = v.find(':');
    if (c1 == std::string::npos) {
        s.buf = v;
        return s;
    }
    auto c2 = v.find(':', c1 + 1);
    DN_CHECK(c2 != std::string::npos, "plan line ", line, ": slice ", v, " must be NAME:OFFSET:COUNT");
    s.buf = v.substr(0, c1);
    s.off = parse_int(v.substr(c1 + 1, c2 - c1 - 1), k, line);
    s.len = parse_int(v.substr(c2 + 1), k, line);
    return s;
}

const PlanBuffer& Plan::buffer(const std::string& name) const { return buffers[buffer_index(name)]; }

int Plan::buffer_index(const std::string& name) const {
    for (size_t i = 0; i < buffers.size(); i++)
        if (buffers[i].name == name) return static_cast<int>(i);
    fail("plan names an undeclared buffer '", name, "'");
}

Plan Plan::parse(const std::string& text) {
    Plan p;
    std::istringstream lines(text);
    std::string raw;
    int line = 0;
    bool header = false;
    while (std::getline(lines, raw)) {
        line++;
        auto hash = raw.find('#');
        if (hash != std::string::npos) raw.resize(hash);
        std::istringstream in(raw);
        std::string kw;
        if (!(in >> kw)) continue;
        if (!header) {
            int v = 0;
            DN_CHECK(kw == "densenet4j-plan" && (in >> v) && v == 1,
                     "not a densenet4j plan (version 1): first statement is '", raw, "'");
            header = true;
            continue;
        }
        if (kw == "input") {
            auto a = parse_args(in, line);
            PlanOp tmp{"input", a, line};
            p.in_c = tmp.integer("c");
            p.in_h = tmp.integer("h");
            p.in_w = tmp.integer("w");
            DN_CHECK(p.in_c > 0 && p.in_h > 0 && p.in_w > 0, "plan line ", line, ": input sizes must be positive");
        } else if (kw == "buffer") {
            PlanBuffer b;
            DN_CHECK(static_cast<bool>(in >> b.name), "plan line ", line, ": buffer needs a name");
            PlanOp tmp{"buffer", parse_args(in, line), line};
            b.c = tmp.integer("c");
            b.h = tmp.integer("h");
            b.w = tmp.integer("w");
            DN_CHECK(b.c > 0 && b.h > 0 && b.w > 0, "plan line ", line, ": buffer ", b.name, " sizes must be positive");
            for (auto& o : p.buffers) DN_CHECK(o.name != b.name, "plan line ", line, ": buffer ", b.name, " declared twice");
            p.buffers.push_back(b);
        } else if (kw == "op") {
            PlanOp op;
            op.line = line;
            DN_CHECK(static_cast<bool>(in >> op.type), "plan line ", line, ": op needs a type");
            op.args = parse_args(in, line);
            p.ops.push_back(op);
        } else {
            fail("plan line ", line, ": unknown statement '", kw, "'");
        }
    }
    DN_CHECK(header, "empty plan");
    DN_CHECK(p.in_c > 0, "plan declares no input");
    DN_CHECK(!p.ops.empty(), "plan has no ops");
    return p;
}

}  // namespace dn4j

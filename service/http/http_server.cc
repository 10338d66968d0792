// civetweb handlers for /metrics, /healthz and /api (see http_server.h).
#include "service/http/http_server.h"

#include <CivetServer.h>
#include <google/protobuf/util/json_util.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "service/http/static_files.h"
#include "service/sweep/result_metrics.h"
#include "techniques/registry.h"

namespace squeeze {
namespace {

std::string ToJson(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

// Compares without an early exit, so the time taken says nothing about the token.
bool SameSecret(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

int HttpCode(absl::StatusCode c) {
  switch (c) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kOutOfRange:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

void Send(mg_connection* conn, int code, const char* type, const std::string& body,
          const std::string& extra_headers = "") {
  const char* reason = code == 200   ? "OK"
                       : code == 204 ? "No Content"
                       : code == 400 ? "Bad Request"
                       : code == 401 ? "Unauthorized"
                       : code == 403 ? "Forbidden"
                       : code == 404 ? "Not Found"
                       : code == 405 ? "Method Not Allowed"
                       : code == 503 ? "Service Unavailable"
                                     : "Internal Server Error";
  const std::string head =
      absl::StrCat("HTTP/1.1 ", code, " ", reason, "\r\nContent-Type: ", type,
                   "\r\nContent-Length: ", body.size(), "\r\nCache-Control: no-store\r\n",
                   extra_headers, "Connection: close\r\n\r\n");
  mg_write(conn, head.data(), head.size());
  mg_write(conn, body.data(), body.size());
}

void SendError(mg_connection* conn, const absl::Status& s, const std::string& extra = "") {
  std::string msg(s.message());
  std::string escaped;
  for (char c : msg) {
    if (c == '"' || c == '\\') escaped += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      escaped += ' ';
      continue;
    }
    escaped += c;
  }
  Send(conn, HttpCode(s.code()), "application/json", "{\"error\":\"" + escaped + "\"}\n", extra);
}

class MetricsHandler : public CivetHandler {
 public:
  explicit MetricsHandler(ServiceMetrics* m) : metrics_(m) {}
  bool handleGet(CivetServer*, mg_connection* conn) override {
    Send(conn, 200, "text/plain; version=0.0.4; charset=utf-8", metrics_->Serialize());
    return true;
  }

 private:
  ServiceMetrics* metrics_;
};

class HealthHandler : public CivetHandler {
 public:
  bool handleGet(CivetServer*, mg_connection* conn) override {
    Send(conn, 200, "text/plain", "ok\n");
    return true;
  }
};

std::string JsonString(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
  }
  return out + "\"";
}

// {"techniques": [{"name", "family", "summary"}, ...]}: the dashboard colours by family.
std::string TechniquesJson() {
  std::string out = "{\"techniques\":[";
  bool first = true;
  for (const TechniqueInfo& t : AllTechniques()) {
    absl::StrAppend(&out, first ? "" : ",", "{\"name\":", JsonString(t.name),
                    ",\"family\":", JsonString(t.family), ",\"summary\":", JsonString(t.summary),
                    "}");
    first = false;
  }
  return out + "]}";
}

// The dashboard: files under web_root (see static_files.h); no token needed (the page holds
// no data and asks for the token itself).
class StaticHandler : public CivetHandler {
 public:
  explicit StaticHandler(std::string root) : root_(std::move(root)) {}
  bool handleGet(CivetServer*, mg_connection* conn) override {
    const mg_request_info* ri = mg_get_request_info(conn);
    const std::string uri = ri->local_uri ? ri->local_uri : "";
    absl::StatusOr<std::string> path = ResolveStaticPath(root_, uri);
    if (!path.ok()) {
      std::string body = std::string(path.status().message()) + "\n";
      if (uri == "/" || uri == "/index.html") {
        body = "the dashboard is not built: no index.html in the web root " + root_ +
               " (build it with scripts/build-web.sh, or pass --web-root)\n";
      }
      Send(conn, 404, "text/plain; charset=utf-8", body);
      return true;
    }
    std::ifstream in(*path, std::ios::binary);
    std::ostringstream data;
    data << in.rdbuf();
    if (!in) {
      Send(conn, 500, "text/plain; charset=utf-8", "cannot read " + uri + "\n");
      return true;
    }
    Send(conn, 200, std::string(ContentTypeFor(*path)).c_str(), data.str(),
         "X-Content-Type-Options: nosniff\r\n");
    return true;
  }

 private:
  const std::string root_;
};

class ApiHandler : public CivetHandler {
 public:
  ApiHandler(const HttpOptions& o, Scheduler* s) : o_(o), scheduler_(s) {}

  bool handleGet(CivetServer*, mg_connection* conn) override {
    const std::string cors = CorsHeaders(conn);
    const char* auth = mg_get_header(conn, "Authorization");
    const bool token_ok = o_.token.empty() || (auth && SameSecret(auth, "Bearer " + o_.token));
    const mg_request_info* info = mg_get_request_info(conn);
    if (info->local_uri && std::strcmp(info->local_uri, "/api/auth") == 0) {
      // Lets the dashboard ask for a token before any request is refused (no 401 noise).
      Send(conn, 200, "application/json",
           absl::StrCat("{\"token_required\":", o_.token.empty() ? "false" : "true",
                        ",\"token_ok\":", token_ok ? "true" : "false", "}\n"),
           cors);
      return true;
    }
    if (!o_.token.empty()) {
      if (!token_ok) {
        SendError(
            conn,
            absl::UnauthenticatedError("missing or wrong token (Authorization: Bearer TOKEN)"),
            cors + "WWW-Authenticate: Bearer\r\n");
        return true;
      }
    }
    const mg_request_info* ri = mg_get_request_info(conn);
    const std::string query = ri->query_string ? ri->query_string : "";
    absl::StatusOr<std::string> body = Route(ri->local_uri ? ri->local_uri : "", query);
    if (body.ok()) {
      Send(conn, 200, "application/json", *body + "\n", cors);
    } else {
      SendError(conn, body.status(), cors);
    }
    return true;
  }

  // CORS preflight: answered only for the configured origin.
  bool handleOptions(CivetServer*, mg_connection* conn) override {
    const std::string cors = CorsHeaders(conn);
    if (cors.empty()) {
      Send(conn, 403, "text/plain", "cross-origin requests are not allowed\n");
    } else {
      Send(conn, 204, "text/plain", "",
           cors +
               "Access-Control-Allow-Methods: GET\r\n"
               "Access-Control-Allow-Headers: Authorization\r\n");
    }
    return true;
  }

 private:
  std::string CorsHeaders(mg_connection* conn) const {
    const char* origin = mg_get_header(conn, "Origin");
    if (o_.cors_origin.empty() || !origin || o_.cors_origin != origin) return "";
    return absl::StrCat("Access-Control-Allow-Origin: ", o_.cors_origin, "\r\nVary: Origin\r\n");
  }

  static std::string QueryVar(const std::string& query, const char* name) {
    char buf[1024];
    const int n = mg_get_var(query.data(), query.size(), name, buf, sizeof buf);
    return n >= 0 ? std::string(buf, n) : "";
  }

  absl::StatusOr<std::string> Route(const std::string& uri, const std::string& query) {
    std::vector<std::string> parts = absl::StrSplit(uri, '/', absl::SkipEmpty());
    // parts[0] == "api"
    if (parts.size() == 2 && parts[1] == "sweeps") {
      int limit = 100;
      if (std::string l = QueryVar(query, "limit"); !l.empty() && !absl::SimpleAtoi(l, &limit))
        return absl::InvalidArgumentError("limit: not a number: " + l);
      v1::ListSweepsResponse r;
      for (v1::Sweep& s : scheduler_->ListSweeps(limit)) *r.add_sweeps() = std::move(s);
      return ToJson(r);
    }
    if (parts.size() == 2 && parts[1] == "techniques") return TechniquesJson();
    int64_t id = 0;
    if (parts.size() < 3 || parts[1] != "sweeps" || !absl::SimpleAtoi(parts[2], &id)) {
      return absl::NotFoundError("no such resource: " + uri);
    }
    if (parts.size() == 3) {
      absl::StatusOr<v1::Sweep> s = scheduler_->GetSweep(id, /*with_spec=*/true);
      if (!s.ok()) return s.status();
      return ToJson(*s);
    }
    if (parts.size() != 4) return absl::NotFoundError("no such resource: " + uri);
    if (parts[3] == "jobs") {
      absl::StatusOr<std::vector<v1::JobInfo>> jobs = scheduler_->ListJobs(id);
      if (!jobs.ok()) return jobs.status();
      v1::ListJobsResponse r;
      for (v1::JobInfo& j : *jobs) *r.add_jobs() = std::move(j);
      return ToJson(r);
    }
    if (parts[3] == "results") {
      const std::string report = QueryVar(query, "report");
      absl::StatusOr<std::vector<v1::ResultRow>> rows =
          scheduler_->ListResults(id, report == "1" || report == "true");
      if (!rows.ok()) return rows.status();
      v1::ListResultsResponse r;
      for (v1::ResultRow& row : *rows) *r.add_results() = std::move(row);
      return ToJson(r);
    }
    if (parts[3] == "pareto") {
      absl::StatusOr<std::vector<v1::Objective>> objectives =
          sweep::ParseObjectives(QueryVar(query, "objectives"));
      if (!objectives.ok()) return objectives.status();
      absl::StatusOr<v1::GetParetoResponse> r = scheduler_->GetPareto(id, *objectives);
      if (!r.ok()) return r.status();
      return ToJson(*r);
    }
    return absl::NotFoundError("no such resource: " + uri);
  }

  const HttpOptions o_;
  Scheduler* scheduler_;
};

}  // namespace

struct HttpServer::Impl {
  std::unique_ptr<CivetServer> server;
  MetricsHandler metrics;
  HealthHandler health;
  ApiHandler api;
  StaticHandler web;
  Impl(const HttpOptions& o, Scheduler* s, ServiceMetrics* m)
      : metrics(m), api(o, s), web(o.web_root) {}
};

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Create(const HttpOptions& o,
                                                               Scheduler* scheduler,
                                                               ServiceMetrics* metrics) {
  std::unique_ptr<HttpServer> h(new HttpServer());
  h->impl_ = std::make_unique<Impl>(o, scheduler, metrics);
  const std::vector<std::string> options = {
      "listening_ports",          o.listen, "num_threads", std::to_string(std::max(o.threads, 1)),
      "enable_directory_listing", "no"};
  try {
    h->impl_->server = std::make_unique<CivetServer>(options);
  } catch (const CivetException& e) {
    return absl::UnavailableError(
        absl::StrCat("HTTP ", o.listen, ": cannot listen (", e.what(), "; port in use?)"));
  }
  CivetServer& server = *h->impl_->server;
  server.addHandler("/metrics", h->impl_->metrics);
  server.addHandler("/healthz", h->impl_->health);
  server.addHandler("/api", h->impl_->api);
  // A pattern: civetweb tries exact and prefix handlers (/api, /metrics, ...) before it.
  if (!o.web_root.empty()) server.addHandler("/**", h->impl_->web);
  const std::vector<int> ports = server.getListeningPorts();
  h->port_ = ports.empty() ? 0 : ports[0];
  return h;
}

HttpServer::~HttpServer() {
  if (impl_ && impl_->server) impl_->server->close();
}

}  // namespace squeeze

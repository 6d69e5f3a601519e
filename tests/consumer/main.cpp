// A host application supervising one server through reins' thread-safe
// handle: add it, start it (an auto port, ready once GET /ready answers),
// talk to it, stop it. Usage: consumer SERVER-EXECUTABLE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "reins/control/supervisor_thread.hpp"

using namespace std::chrono_literals;
using reins::control::SupervisorThread;

// Connects to 127.0.0.1:port and asks for /health; true on a 200.
static bool healthy(int port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const std::string ask = "GET /health HTTP/1.0\r\n\r\n";
    char reply[64] = {};
    const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
                    ::write(fd, ask.data(), ask.size()) == static_cast<ssize_t>(ask.size()) &&
                    ::read(fd, reply, sizeof reply - 1) > 0 && std::string(reply).find(" 200 ") != std::string::npos;
    ::close(fd);
    return ok;
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: consumer SERVER-EXECUTABLE\n");
        return 2;
    }
    reins::control::Outcome failed;
    auto sup = SupervisorThread::open({}, &failed);
    if (!sup) {
        std::fprintf(stderr, "reins: %s\n", failed.message.c_str());
        return 1;
    }

    reins::supervisor::ServiceSpec server;
    server.name = "server";
    server.command.value = std::vector<std::string>{argv[1]};  // listens on $PORT
    server.port = reins::supervisor::PortSpec::any();
    server.ready.kind = reins::supervisor::ProbeKind::http;
    server.ready.target = "/ready";
    if (auto added = sup->add(server, 5s); !added) {
        std::fprintf(stderr, "add: %s\n", added.message.c_str());
        return 1;
    }

    auto up = sup->start({"server"}, 20s);
    if (!up) {
        std::fprintf(stderr, "start: %s\n%s\n", up.message.c_str(), up.hint.c_str());
        return 1;
    }
    const auto& st = up.services.at(0);
    std::printf("running on port %d (pid %d)\n", st.port, st.pid);
    std::fflush(stdout);

    if (!healthy(st.port)) {
        std::fprintf(stderr, "GET /health on port %d failed\n", st.port);
        return 1;
    }
    std::printf("GET /health: 200\n");

    auto down = sup->stop({"server"}, 20s);
    if (!down) {
        std::fprintf(stderr, "stop: %s\n", down.message.c_str());
        return 1;
    }
    std::printf("stopped\n");
    return 0;  // `sup` goes: its thread ends
}

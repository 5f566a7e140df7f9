// kbus::server: the socket transport's listener, with each accepted and authenticated peer
// made into a connection.
#include "kbus/server.hpp"

#include "core/connection_impl.hpp"
#include "transport/socket/listener.hpp"

namespace kbus {

namespace detail {

class server_impl : public std::enable_shared_from_this<server_impl> {
 public:
  server_impl(boost::asio::any_io_executor ex, server_options options) : ex_(ex), listener_(std::move(ex), std::move(options)) {}

  void accept(std::unique_ptr<accept_completion> done, boost::asio::cancellation_slot slot) {
    auto shared_done = std::shared_ptr<accept_completion>(std::move(done));
    listener_.async_accept([self = shared_from_this(), shared_done](boost::system::error_code ec,
                                                                     std::unique_ptr<transport> t) {
      auto impl = std::make_shared<connection_impl>(self->ex_);
      // Nobody else holds the new connection yet: it is set up here, before its owner sees it.
      if (!ec) impl->adopt_accepted(std::move(t));
      else impl->core_.status().set_last_error(self->listener_.failure());  // why this client failed
      shared_done->complete(ec, connection(std::move(impl)));
    }, slot);
  }

  boost::asio::any_io_executor ex_;
  listener listener_;
};

}  // namespace detail

server::server(executor_type ex, server_options options)
    : ex_(ex), impl_(std::make_shared<detail::server_impl>(std::move(ex), std::move(options))) {}

server::~server() {
  if (impl_) impl_->listener_.close();
}

void server::listen(const std::string& address, boost::system::error_code& ec) {
  ec = {};
  impl_->listener_.listen(address, ec);
}

void server::listen(const std::string& address) {
  boost::system::error_code ec;
  listen(address, ec);
  if (ec) throw boost::system::system_error(ec, impl_->listener_.failure());
}

const std::string& server::address() const noexcept { return impl_->listener_.address(); }
const std::string& server::guid() const noexcept { return impl_->listener_.guid(); }

void server::start_accept(std::unique_ptr<detail::accept_completion> done, boost::asio::cancellation_slot slot) {
  impl_->accept(std::move(done), slot);
}

void server::close() { impl_->listener_.close(); }

}  // namespace kbus

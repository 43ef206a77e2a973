# Dalli against kestrel (test/clients/run.ts). Dalli 3.0 speaks only the binary protocol, which
# kestrel does not: every request must fail, with an error, within a second (its own socket
# timeout is 5 s here, so only the server's reply can end it that soon).
require "dalli"

host, port = ARGV
puts "version #{Dalli::VERSION}"
client = Dalli::Client.new("#{host}:#{port}", socket_timeout: 5, socket_max_failures: 1, down_retry_delay: 0)
started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
begin
  value = client.get("binary_protocol")
  puts "fail binary_protocol get returned #{value.inspect}"
rescue Dalli::DalliError => e
  seconds = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
  outcome = seconds <= 1.0 ? "pass" : "fail"
  puts "#{outcome} binary_protocol #{e.class} after #{format("%.2f", seconds)} s: #{e.message.tr("\n", " ")}"
end

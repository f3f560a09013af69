# avfleet-agent: the host agent of an avfleet media host. Rendered by avfleet (modules/host-agent);
# change the fleet spec, not this file.
#
# One process, Python 3 standard library only (every image that runs cloud-init has it, and
# Google's and Debian's cloud images ship it), supervised by systemd (Restart=always):
#   - serves two health checks (health_answer): readiness for the load balancer, healthy only
#     while the media server says so, the host tuning verifies and no drain is under way; and
#     liveness for the MIG's autohealer, healthy while the media server answers, draining or
#     not (a draining host is not broken: recreating it would cut its calls);
#   - publishes the media load gauge every interval where the pool's autoscaler reads it
#     (Cloud Monitoring on gce_instance, CloudWatch with AutoScalingGroupName, or /metrics);
#   - drains on a termination notice and tells the platform when the host may go (GCP: a guest
#     attribute the pool's scale-in controller reads before it deletes the VM);
#   - serves the host's UDP drop, NIC allowance, tuning drift and CPU counters on /metrics;
#   - with --pull, puts a container workload's image on the host before the server starts.
#
# A package, one module per job and one adapter per platform (cloud.py): the host gets its own
# platform's adapter only, under /usr/local/lib/avfleet-agent, run by /usr/local/sbin/avfleet-agent.

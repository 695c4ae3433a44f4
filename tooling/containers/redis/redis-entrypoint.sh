#!/bin/sh
# Clients reach the server through the Docker bridge, never from loopback, so protected mode
# (on whenever no password and no bind are configured) would refuse every one of them. The
# official redis image's entrypoint adds the same flag.
set -e
if [ "$1" = "redis-server" ]; then
  case " $* " in
    *" --protected-mode "*) ;;
    *) set -- "$@" --protected-mode no ;;
  esac
fi
exec "$@"

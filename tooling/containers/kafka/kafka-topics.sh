#!/bin/sh
# The topics CLI at the path the official image has it, so docker-compose.yml's healthcheck
# works with either image.
exec java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
  -Dlog4j2.configurationFile=/opt/kafka/config/tools-log4j2.xml -cp '/opt/kafka/libs/*' \
  org.apache.kafka.tools.TopicCommand "$@"

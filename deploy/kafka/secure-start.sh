#!/bin/sh
# Start a single-node Kafka (KRaft) that takes clients only over SASL_SSL (SCRAM-SHA-512) and
# serves its controller listener only to holders of a certificate from the deployment's CA.
# Reads what `vigil secrets DIR --hosts kafka,...` wrote, mounted at $SECRETS:
#   ca.pem, kafka-keystore.pem (key + certificate chain), kafka-admin.password, kafka-app.password
# The SCRAM users are created when the storage is formatted (first start). Passwords go into 0600
# files (server.properties, a java @argument file) and never onto a command line;
# $KAFKA_CONF_DIR/admin-client.properties lets tools in the container connect as the admin.
# Used by deploy/docker-compose.yml with the apache/kafka image; runs anywhere with java and the
# Kafka jars (KAFKA_LIBS).
set -eu
SECRETS=${SECRETS:-/run/secrets}
KAFKA_LIBS=${KAFKA_LIBS:-/opt/kafka/libs}
DATA=${KAFKA_DATA_DIR:-/var/lib/kafka/data}
CONF=${KAFKA_CONF_DIR:-/tmp/vigil-kafka}
HOST=${KAFKA_ADVERTISED_HOST:-kafka}
BIND=${KAFKA_BIND_HOST:-0.0.0.0}
PORT=${KAFKA_SASL_SSL_PORT:-9093}
CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9094}
PARTITIONS=${KAFKA_NUM_PARTITIONS:-4}

umask 077
mkdir -p "$CONF" "$DATA"
admin=$(cat "$SECRETS/kafka-admin.password")
app=$(cat "$SECRETS/kafka-app.password")

cat > "$CONF/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=$HOST:$CONTROLLER_PORT
controller.listener.names=CONTROLLER
listeners=SASL_SSL://$BIND:$PORT,CONTROLLER://$BIND:$CONTROLLER_PORT
advertised.listeners=SASL_SSL://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:SSL
listener.name.controller.ssl.client.auth=required
inter.broker.listener.name=SASL_SSL
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="vigil-admin" password="$admin";
ssl.keystore.type=PEM
ssl.keystore.location=$SECRETS/kafka-keystore.pem
ssl.truststore.type=PEM
ssl.truststore.location=$SECRETS/ca.pem
ssl.endpoint.identification.algorithm=https
log.dirs=$DATA
num.partitions=$PARTITIONS
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
message.max.bytes=12582912
EOF

# for tools and health checks inside the container: the admin user over SASL_SSL
cat > "$CONF/admin-client.properties" <<EOF
security.protocol=SASL_SSL
sasl.mechanism=SCRAM-SHA-512
sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="vigil-admin" password="$admin";
ssl.truststore.type=PEM
ssl.truststore.location=$SECRETS/ca.pem
EOF

if [ ! -f "$DATA/meta.properties" ]; then
  cluster_id=$(java -cp "$KAFKA_LIBS/*" kafka.tools.StorageTool random-uuid)
  # printf is a shell builtin: the passwords reach the file, not a process's arguments
  printf '%s\n' kafka.tools.StorageTool format --standalone -t "$cluster_id" -c "$CONF/server.properties" \
    --ignore-formatted --add-scram "SCRAM-SHA-512=[name=vigil-admin,password=$admin]" \
    --add-scram "SCRAM-SHA-512=[name=vigil-app,password=$app]" > "$CONF/format.args"
  java -cp "$KAFKA_LIBS/*" "@$CONF/format.args" || { rm -f "$CONF/format.args"; exit 1; }
  rm -f "$CONF/format.args"
fi

set -- -cp "$KAFKA_LIBS/*"
if [ -n "${KAFKA_LOG4J_CONFIG:-}" ]; then set -- "$@" "-Dlog4j2.configurationFile=$KAFKA_LOG4J_CONFIG"; fi
# shellcheck disable=SC2086 - the heap options are several words
exec java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g} -XX:+UseG1GC -Djava.awt.headless=true "$@" kafka.Kafka "$CONF/server.properties"

package eosbench;

import java.lang.reflect.Field;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.kafka.common.utils.Scheduler;
import org.apache.kafka.trogdor.agent.Agent;
import org.apache.kafka.trogdor.agent.AgentRestResource;
import org.apache.kafka.trogdor.common.Node;
import org.apache.kafka.trogdor.common.Platform;
import org.apache.kafka.trogdor.coordinator.Coordinator;
import org.apache.kafka.trogdor.coordinator.CoordinatorRestResource;
import org.apache.kafka.trogdor.rest.JsonRestServer;
import org.eclipse.jetty.server.ServerConnector;

/**
 * A Trogdor coordinator or agent whose REST server listens on one address only.
 *
 * <p>Trogdor's own {@code Agent.main} and {@code Coordinator.main} bind every interface, and an
 * agent runs whatever command an ExternalCommand task names: on a shared machine that is anyone's
 * shell. This does what those mains do (the same Platform, REST resource and shutdown) with the
 * REST connector bound to {@code BIND} first (eosbench's embedded Trogdor: 127.0.0.1).
 *
 * <p>Usage: {@code TrogdorNode agent|coordinator CONFIG NODE_NAME BIND}
 */
public final class TrogdorNode {
    private TrogdorNode() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4 || !(args[0].equals("agent") || args[0].equals("coordinator"))) {
            System.err.println("usage: TrogdorNode agent|coordinator CONFIG NODE_NAME BIND");
            System.exit(2);
        }
        Platform platform = Platform.Config.parse(args[2], args[1]);
        boolean agent = args[0].equals("agent");
        int port = agent ? Node.Util.getTrogdorAgentPort(platform.curNode())
                         : Node.Util.getTrogdorCoordinatorPort(platform.curNode());
        JsonRestServer rest = new JsonRestServer(port);
        Field connector = JsonRestServer.class.getDeclaredField("connector");
        connector.setAccessible(true);
        ((ServerConnector) connector.get(rest)).setHost(args[3]);
        if (agent) {
            AgentRestResource resource = new AgentRestResource();
            Agent node = new Agent(platform, Scheduler.SYSTEM, rest, resource);
            rest.start(resource);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    node.beginShutdown();
                    node.waitForShutdown();
                } catch (Exception e) {
                    e.printStackTrace();
                }
            }));
            node.waitForShutdown();
        } else {
            CoordinatorRestResource resource = new CoordinatorRestResource();
            Coordinator node = new Coordinator(platform, Scheduler.SYSTEM, rest, resource,
                ThreadLocalRandom.current().nextLong(0, Long.MAX_VALUE / 2));
            rest.start(resource);
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    node.beginShutdown(false);
                    node.waitForShutdown();
                } catch (Exception e) {
                    e.printStackTrace();
                }
            }));
            node.waitForShutdown();
        }
    }
}

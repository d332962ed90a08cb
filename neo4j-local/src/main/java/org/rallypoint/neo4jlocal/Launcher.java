package org.rallypoint.neo4jlocal;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.io.ByteUnit;
import org.neo4j.kernel.api.procedure.GlobalProcedures;
import org.neo4j.kernel.internal.GraphDatabaseAPI;

/**
 * A fixed local Neo4j Community server for rallypoint's development and CI.
 *
 * <p>It embeds the database (DatabaseManagementServiceBuilder) and opens Bolt on one fixed
 * address with authentication enabled, which neo4j-harness (random ports and folders, made for
 * JUnit) does not give. Usage:
 *
 * <pre>java -cp target/classes:target/lib/* org.rallypoint.neo4jlocal.Launcher HOME [HOST] [PORT]</pre>
 *
 * <p>The password of user {@code neo4j} comes from the environment variable NEO4J_PASSWORD (never
 * from the command line, which other users of the machine can read); it is set on every start,
 * so changing the variable and restarting changes it. Bolt opens a moment before the password is
 * set, so the server announces readiness only after that: it prints "rallypoint-neo4j ready" and
 * creates the file named by the system property {@code rallypoint.ready} (if given). It shuts the
 * database down cleanly on SIGTERM. The file named by {@code rallypoint.toggle}, when it appears,
 * pauses it (the database shut down, the JVM kept, the file named by {@code rallypoint.paused}
 * written) or resumes it on the store then in HOME.
 * It registers rallypoint's load procedure ({@link LoadProcedures}).
 *
 * <p>Further Neo4j settings are read from the file named by the system property
 * {@code rallypoint.conf} (neo4j.sh passes neo4j-local/neo4j.conf) before the fixed ones above
 * are applied, so the file cannot move Bolt or turn authentication off.
 */
public final class Launcher {
    private static final String USER = "neo4j";
    private static final long AVAILABLE_WAIT_MS = 30_000;

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: Launcher HOME [HOST] [PORT]");
            System.exit(64);
        }
        Path home = Path.of(args[0]).toAbsolutePath();
        String host = args.length > 1 ? args[1] : "127.0.0.1";
        int port = args.length > 2 ? Integer.parseInt(args[2]) : 7687;
        String password = System.getenv().getOrDefault("NEO4J_PASSWORD", "");
        if (password.length() < 8) {
            System.err.println("NEO4J_PASSWORD must hold at least 8 characters (Neo4j's minimum).");
            System.exit(64);
        }
        Files.createDirectories(home);
        Launcher launcher = new Launcher(home, host, port, password);
        launcher.open();

        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("rallypoint-neo4j stopping");
            launcher.close();
            stopped.countDown();
        }, "neo4j-shutdown"));
        // A request file pauses (the database shut down, the JVM kept) or resumes on whatever
        // store is then in HOME: the bulk route swaps its imported store in without a new JVM.
        // A file, not a signal: neo4j.sh starts the JVM under nohup, which leaves SIGHUP ignored.
        String request = System.getProperty("rallypoint.toggle");
        if (request != null) {
            Thread watcher = new Thread(() -> launcher.watch(Path.of(request)), "neo4j-pause-resume");
            watcher.setDaemon(true);
            watcher.start();
        }
        stopped.await();
    }

    private final Path home;
    private final String host;
    private final int port;
    private final String password;
    private DatabaseManagementService service;

    private Launcher(Path home, String host, int port, String password) {
        this.home = home;
        this.host = host;
        this.port = port;
        this.password = password;
    }

    /** Builds the DBMS on HOME, registers the procedures, sets the password, announces readiness. */
    private synchronized void open() throws Exception {
        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(home);
        // Tuning settings (neo4j-local/neo4j.conf): read first, so the fixed settings below win.
        String conf = System.getProperty("rallypoint.conf");
        if (conf != null && !conf.isEmpty()) {
            builder.loadPropertiesFromFile(Path.of(conf));
        }
        service = builder
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, new SocketAddress(host, port))
                .setConfig(BoltConnector.advertised_address, new SocketAddress(host, port))
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                // Small, fixed memory: the machine is shared by a whole team's tests.
                .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(
                        Long.getLong("rallypoint.pagecache.mb", 512)))
                // Development data is disposable: keep transaction logs short.
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "false")
                .setConfig(GraphDatabaseSettings.transaction_timeout, Duration.ofMinutes(30))
                .build();
        // A store that cannot be opened leaves the DBMS up with its database failed: not ready.
        if (!service.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME).isAvailable(AVAILABLE_WAIT_MS)) {
            throw new IllegalStateException("the database " + GraphDatabaseSettings.DEFAULT_DATABASE_NAME
                    + " did not become available (see " + home.resolve("logs/debug.log") + ")");
        }
        registerProcedures(service);
        setPassword(service, password);
        System.out.println("rallypoint-neo4j ready bolt://" + host + ":" + port + " home=" + home);
        System.out.flush();
        writeState("rallypoint.ready", ProcessHandle.current().pid() + "\n");
    }

    /** Shuts the DBMS down (idempotent); the JVM stays. */
    private synchronized void close() {
        if (service != null) {
            service.shutdown();
            service = null;
        }
    }

    /** Toggles each time ``request`` appears (deleting it), looking every tenth of a second. */
    private void watch(Path request) {
        while (true) {
            try {
                if (Files.deleteIfExists(request)) {
                    toggle();
                }
                Thread.sleep(100);
            } catch (InterruptedException e) {
                return;
            } catch (Exception e) {
                e.printStackTrace(System.out);
            }
        }
    }

    /**
     * Pause when serving, resume when paused. Either way the file named by {@code rallypoint.paused}
     * is written once the database is down: after a pause, or after a resume that failed (its
     * first line then says why), so the caller can put the previous store back and resume again.
     */
    private synchronized void toggle() {
        try {
            if (service != null) {
                deleteState("rallypoint.ready");
                close();
                System.out.println("rallypoint-neo4j paused");
                writeState("rallypoint.paused", "paused\n");
            } else {
                System.out.println("rallypoint-neo4j resuming");
                open();
            }
        } catch (Throwable e) {
            e.printStackTrace(System.out);
            close();
            String reason = String.valueOf(e.getMessage()).replace('\n', ' ');
            try {
                writeState("rallypoint.paused", "failed: " + reason + "\n");
            } catch (Exception ignored) {
                // the caller times out instead
            }
        }
        System.out.flush();
    }

    private static void writeState(String property, String content) throws Exception {
        String file = System.getProperty(property);
        if (file != null) {
            Files.writeString(Path.of(file), content);
        }
    }

    private static void deleteState(String property) throws Exception {
        String file = System.getProperty(property);
        if (file != null) {
            Files.deleteIfExists(Path.of(file));
        }
    }

    /**
     * Registers rallypoint's procedures (LoadProcedures: {@code rallypoint.loadBatch}) with the DBMS.
     *
     * <p>A server from the Neo4j image loads them from the plugin jar instead
     * ({@code target/neo4j-local-*-procedures.jar}, mounted into /plugins by docker-compose.yml).
     */
    private static void registerProcedures(DatabaseManagementService service) throws Exception {
        GraphDatabaseAPI db = (GraphDatabaseAPI) service.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        db.getDependencyResolver().resolveDependency(GlobalProcedures.class)
                .registerProcedure(LoadProcedures.class);
    }

    /** Sets the password of user neo4j (embedded access runs with full rights on the system db). */
    private static void setPassword(DatabaseManagementService service, String password) {
        try {
            service.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME).executeTransactionally(
                    "ALTER USER " + USER + " SET PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", password));
        } catch (RuntimeException e) {
            // Neo4j refuses to "change" a password to the one it already has: nothing to do.
            String message = String.valueOf(e.getMessage());
            if (!message.contains("Old password and new password cannot be the same")) {
                throw e;
            }
        }
    }
}

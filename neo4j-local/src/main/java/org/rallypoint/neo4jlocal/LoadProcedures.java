package org.rallypoint.neo4jlocal;

import java.time.ZoneOffset;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.eclipse.collections.api.map.primitive.MutableIntObjectMap;
import org.eclipse.collections.api.set.primitive.IntSet;
import org.eclipse.collections.impl.factory.primitive.IntSets;
import org.eclipse.collections.impl.map.mutable.primitive.IntObjectHashMap;
import org.neo4j.exceptions.KernelException;
import org.neo4j.graphdb.Direction;
import org.neo4j.graphdb.Transaction;
import org.neo4j.internal.kernel.api.NodeCursor;
import org.neo4j.internal.kernel.api.NodeValueIndexCursor;
import org.neo4j.internal.kernel.api.PropertyCursor;
import org.neo4j.internal.kernel.api.PropertyIndexQuery;
import org.neo4j.internal.kernel.api.Read;
import org.neo4j.internal.kernel.api.RelationshipTraversalCursor;
import org.neo4j.internal.kernel.api.TokenWrite;
import org.neo4j.internal.kernel.api.Write;
import org.neo4j.internal.schema.IndexDescriptor;
import org.neo4j.kernel.api.KernelTransaction;
import org.neo4j.kernel.api.StatementConstants;
import org.neo4j.kernel.impl.coreapi.InternalTransaction;
import org.neo4j.procedure.Context;
import org.neo4j.procedure.Description;
import org.neo4j.procedure.Mode;
import org.neo4j.procedure.Name;
import org.neo4j.procedure.Procedure;
import org.neo4j.storageengine.api.PropertySelection;
import org.neo4j.storageengine.api.RelationshipSelection;
import org.neo4j.values.storable.DateTimeValue;
import org.neo4j.values.storable.Value;
import org.neo4j.values.storable.Values;

/**
 * {@code rallypoint.loadBatch(batch)}: one batch of lake records into the graph, through the kernel API.
 *
 * <p>The batch is the column lists rallypoint's Python loader builds for both of its paths
 * ({@code rallypoint/graph/neo4j_store.py}, {@code batch_tables}): one table per node kind, each
 * row a distinct node, and per relationship type the (start row, end row) pairs into those
 * tables. The map:
 *
 * <pre>
 * accounts: {id, platform, name, high_profile, followers}
 * posts:    {platform, id, ts (epoch microseconds), action, channel_id, stub}
 * urls: {url, domain}   hashtags: {tag}   media: {hash}
 * relationships: [{type, start, end, src, dst}]   start/end name a node table, src/dst its rows
 * </pre>
 *
 * <p>It writes exactly what the Cypher path's MERGE statements write, so a graph does not depend
 * on which path loaded it:
 * <ul>
 * <li>nodes are found with {@code lockingNodeUniqueIndexSeek} on the uniqueness constraints'
 *     indexes (what Cypher's MERGE does: a shared lock on the key when found, an exclusive one when
 *     not, so concurrent loaders cannot create a node twice) and created when missing;</li>
 * <li>accounts: platform on creation; name and followers when given (the newest non-null value
 *     wins); high_profile when given, else kept, else false. Posts that are records: ts, action and
 *     channel_id set (a null removes); stubs (targets): key only. Urls: domain on creation;</li>
 * <li>a relationship is created unless one of that type already joins the two nodes; the check
 *     is skipped when either end was created by this call (it can have no older relationship;
 *     the pairs of one type are distinct), and otherwise walks the post end's relationships of
 *     that type, which are few.</li>
 * </ul>
 *
 * <p>All nodes are written before any relationship, in the order of the tables' rows (the Python
 * side sorts them by key). Cost: one index seek per node row, O(1) per new relationship and
 * O(degree of the post) per relationship between existing nodes; no Cypher planning or
 * interpretation. Requires the constraints of {@code ensure_constraints} (it fails if they are
 * missing).
 */
public final class LoadProcedures {
    /** The uniqueness constraints (and so the index names) of neo4j_store.CONSTRAINTS. */
    private static final Map<String, String> KEY_INDEX = Map.of(
            "accounts", "rallypoint_account_id",
            "posts", "rallypoint_post_key",
            "urls", "rallypoint_url",
            "hashtags", "rallypoint_hashtag",
            "media", "rallypoint_media");
    private static final Map<String, String> LABEL = Map.of(
            "accounts", "Account", "posts", "Post", "urls", "Url", "hashtags", "Hashtag", "media", "Media");
    /** The key columns of each node table, in the order of their index's properties. */
    private static final Map<String, String[]> KEYS = Map.of(
            "accounts", new String[] {"id"},
            "posts", new String[] {"platform", "id"},
            "urls", new String[] {"url"},
            "hashtags", new String[] {"tag"},
            "media", new String[] {"hash"});

    @Context
    public Transaction tx;

    /** What one call wrote. */
    public static final class Written {
        public long nodes;
        public long relationships;
        public long properties;
    }

    /** The properties (beyond the key) a node table's row gives a node it creates. */
    @FunctionalInterface
    private interface NewNodeProperties {
        void add(int row, MutableIntObjectMap<Value> properties);
    }

    /** The node ids of one node table's rows, and which of them this call created. */
    private record Resolved(long[] ids, boolean[] created) {}

    @Procedure(name = "rallypoint.loadBatch", mode = Mode.WRITE)
    @Description("rallypoint.loadBatch(batch) - write one batch of lake records (rallypoint's batch "
            + "columns) idempotently; yields the nodes, relationships and properties written.")
    public Stream<Written> loadBatch(@Name("batch") Map<String, Object> batch) throws KernelException {
        return Stream.of(new BatchLoad(((InternalTransaction) tx).kernelTransaction()).load(batch));
    }

    /** One call's state: the kernel transaction's reads, writes and cursors. */
    private static final class BatchLoad {
        private final KernelTransaction ktx;
        private final Read read;
        private final Write write;
        private final TokenWrite tokens;
        private final NodeValueIndexCursor indexCursor;
        private final NodeCursor nodeCursor;
        private final PropertyCursor propertyCursor;
        private final RelationshipTraversalCursor relationshipCursor;
        private final Map<String, Integer> propertyKeys = new HashMap<>();
        private final Written written = new Written();

        BatchLoad(KernelTransaction ktx) throws KernelException {
            this.ktx = ktx;
            this.read = ktx.dataRead();
            this.write = ktx.dataWrite();
            this.tokens = ktx.tokenWrite();
            var cursors = ktx.cursors();
            this.indexCursor = cursors.allocateNodeValueIndexCursor(ktx.cursorContext(), ktx.memoryTracker());
            this.nodeCursor = cursors.allocateNodeCursor(ktx.cursorContext(), ktx.memoryTracker());
            this.propertyCursor = cursors.allocatePropertyCursor(ktx.cursorContext(), ktx.memoryTracker());
            this.relationshipCursor = cursors.allocateRelationshipTraversalCursor(
                    ktx.cursorContext(), ktx.memoryTracker());
        }

        Written load(Map<String, Object> batch) throws KernelException {
            try {
                Map<String, Resolved> nodes = new HashMap<>();
                // nodes first, relationships after (Python's order too)
                nodes.put("accounts", accounts(table(batch, "accounts")));
                nodes.put("posts", posts(table(batch, "posts")));
                nodes.put("urls", urls(table(batch, "urls")));
                nodes.put("hashtags", keyOnly("hashtags", table(batch, "hashtags")));
                nodes.put("media", keyOnly("media", table(batch, "media")));
                Object rels = batch.get("relationships");
                if (rels != null) {
                    for (Object rel : (List<?>) rels) {
                        relationships(asMap(rel), nodes);
                    }
                }
                return written;
            } finally {
                indexCursor.close();
                nodeCursor.close();
                propertyCursor.close();
                relationshipCursor.close();
            }
        }

        private Resolved accounts(Map<String, Object> table) throws KernelException {
            List<?> platform = column(table, "platform");
            List<?> name = column(table, "name");
            List<?> highProfile = column(table, "high_profile");
            List<?> followers = column(table, "followers");
            int platformKey = key("platform");
            int nameKey = key("name");
            int highProfileKey = key("high_profile");
            int followersKey = key("followers");
            Resolved resolved = resolve("accounts", table, (i, properties) -> {
                putIfGiven(properties, platformKey, platform.get(i));
                putIfGiven(properties, nameKey, name.get(i));
                Object hp = highProfile.get(i);
                properties.put(highProfileKey, hp == null ? Values.booleanValue(false) : Values.of(hp));
                putIfGiven(properties, followersKey, followers.get(i));
            });
            for (int i = 0; i < resolved.ids.length; i++) {
                if (resolved.created[i]) {
                    continue; // written with its properties
                }
                long node = resolved.ids[i];
                setIfGiven(node, nameKey, name.get(i));
                Object hp = highProfile.get(i);
                if (hp != null) {
                    replace(node, highProfileKey, Values.of(hp));
                } else if (stored(node, highProfileKey) == Values.NO_VALUE) {
                    set(node, highProfileKey, Values.booleanValue(false));
                }
                setIfGiven(node, followersKey, followers.get(i));
            }
            return resolved;
        }

        private Resolved posts(Map<String, Object> table) throws KernelException {
            List<?> ts = column(table, "ts");
            List<?> action = column(table, "action");
            List<?> channel = column(table, "channel_id");
            List<?> stub = column(table, "stub");
            int tsKey = key("ts");
            int actionKey = key("action");
            int channelKey = key("channel_id");
            Resolved resolved = resolve("posts", table, (i, properties) -> {
                if (!Boolean.TRUE.equals(stub.get(i))) {
                    Object micros = ts.get(i);
                    if (micros != null) {
                        properties.put(tsKey, datetime(((Number) micros).longValue()));
                    }
                    putIfGiven(properties, actionKey, action.get(i));
                    putIfGiven(properties, channelKey, channel.get(i));
                }
            });
            for (int i = 0; i < resolved.ids.length; i++) {
                if (resolved.created[i] || Boolean.TRUE.equals(stub.get(i))) {
                    continue; // written with its properties; a stub (a target the record names) is key only
                }
                long node = resolved.ids[i];
                Object micros = ts.get(i);
                replace(node, tsKey, micros == null ? null : datetime(((Number) micros).longValue()));
                replace(node, actionKey, action.get(i) == null ? null : Values.of(action.get(i)));
                replace(node, channelKey, channel.get(i) == null ? null : Values.of(channel.get(i)));
            }
            return resolved;
        }

        private Resolved urls(Map<String, Object> table) throws KernelException {
            List<?> domain = column(table, "domain");
            int domainKey = key("domain");
            return resolve("urls", table, (i, properties) -> putIfGiven(properties, domainKey, domain.get(i)));
        }

        private Resolved keyOnly(String kind, Map<String, Object> table) throws KernelException {
            return resolve(kind, table, (i, properties) -> { });
        }

        /**
         * Finds (locking the key) or creates the node of every row of a node table. A new node gets
         * its label, key and the properties {@code onCreate} adds for its row in one
         * {@code nodeApplyChanges} (one uniqueness check, fewer transaction-state updates).
         */
        private Resolved resolve(String kind, Map<String, Object> table, NewNodeProperties onCreate)
                throws KernelException {
            String[] keyNames = KEYS.get(kind);
            IndexDescriptor index = ktx.schemaRead().indexGetForName(KEY_INDEX.get(kind));
            if (index == IndexDescriptor.NO_INDEX) {
                throw new IllegalStateException("The uniqueness constraint " + KEY_INDEX.get(kind)
                        + " is missing; rallypoint's loader creates it (ensure_constraints) before loading.");
            }
            int[] indexKeys = index.schema().getPropertyIds();
            int[] keyIds = new int[keyNames.length];
            List<?>[] keyColumns = new List<?>[keyNames.length];
            for (int k = 0; k < keyNames.length; k++) {
                keyIds[k] = key(keyNames[k]);
                keyColumns[k] = column(table, keyNames[k]);
            }
            // the predicates in the index's property order
            int[] order = new int[indexKeys.length];
            for (int p = 0; p < indexKeys.length; p++) {
                order[p] = -1;
                for (int k = 0; k < keyIds.length; k++) {
                    if (keyIds[k] == indexKeys[p]) {
                        order[p] = k;
                    }
                }
                if (order[p] < 0) {
                    throw new IllegalStateException("The index " + KEY_INDEX.get(kind) + " is not on "
                            + String.join(", ", keyNames) + ".");
                }
            }
            IntSet labels = IntSets.immutable.of(tokens.labelGetOrCreateForName(LABEL.get(kind)));
            int rows = keyColumns[0].size();
            long[] ids = new long[rows];
            boolean[] created = new boolean[rows];
            PropertyIndexQuery.ExactPredicate[] predicates = new PropertyIndexQuery.ExactPredicate[order.length];
            for (int i = 0; i < rows; i++) {
                for (int p = 0; p < order.length; p++) {
                    predicates[p] = PropertyIndexQuery.exact(indexKeys[p], keyColumns[order[p]].get(i));
                }
                long node = read.lockingNodeUniqueIndexSeek(index, indexCursor, predicates);
                if (node == StatementConstants.NO_SUCH_NODE) {
                    MutableIntObjectMap<Value> properties = new IntObjectHashMap<>();
                    for (int k = 0; k < keyIds.length; k++) {
                        properties.put(keyIds[k], Values.of(keyColumns[k].get(i)));
                    }
                    onCreate.add(i, properties);
                    node = write.nodeCreate();
                    write.nodeApplyChanges(node, labels, IntSets.immutable.empty(), properties);
                    written.nodes++;
                    written.properties += properties.size();
                    created[i] = true;
                }
                ids[i] = node;
            }
            return new Resolved(ids, created);
        }

        private void relationships(Map<String, Object> rel, Map<String, Resolved> nodes) throws KernelException {
            String start = (String) rel.get("start");
            String end = (String) rel.get("end");
            Resolved from = nodes.get(start);
            Resolved to = nodes.get(end);
            if (from == null || to == null) {
                throw new IllegalArgumentException("unknown node table in relationship " + rel.get("type"));
            }
            List<?> src = (List<?>) rel.get("src");
            List<?> dst = (List<?>) rel.get("dst");
            int type = tokens.relationshipTypeGetOrCreateForName((String) rel.get("type"));
            // walk from the post end: a post has few relationships, an account or a tag many
            boolean fromStart = "posts".equals(start);
            RelationshipSelection selection = RelationshipSelection.selection(
                    type, fromStart ? Direction.OUTGOING : Direction.INCOMING);
            for (int i = 0; i < src.size(); i++) {
                int s = ((Number) src.get(i)).intValue();
                int d = ((Number) dst.get(i)).intValue();
                long a = from.ids[s];
                long b = to.ids[d];
                if (!from.created[s] && !to.created[d]
                        && connected(fromStart ? a : b, fromStart ? b : a, selection)) {
                    continue;
                }
                write.relationshipCreate(a, type, b);
                written.relationships++;
            }
        }

        private boolean connected(long node, long other, RelationshipSelection selection) {
            read.singleNode(node, nodeCursor);
            if (!nodeCursor.next()) {
                return false;
            }
            // (the record store has no relationshipsTo: walk the node's relationships of the type)
            nodeCursor.relationships(relationshipCursor, selection);
            while (relationshipCursor.next()) {
                if (relationshipCursor.otherNodeReference() == other) {
                    return true;
                }
            }
            return false;
        }

        /** The node's value of {@code property}, {@code Values.NO_VALUE} when it has none. */
        private Value stored(long node, int property) {
            read.singleNode(node, nodeCursor);
            if (!nodeCursor.next()) {
                return Values.NO_VALUE;
            }
            nodeCursor.properties(propertyCursor, PropertySelection.selection(property));
            return propertyCursor.next() ? propertyCursor.propertyValue() : Values.NO_VALUE;
        }

        /**
         * Cypher's {@code SET n.p = $v} on an existing node (a null removes the property), written
         * only when it changes something. Every batch names again the accounts (and target posts)
         * earlier batches wrote; rewriting an unchanged value still takes the node's exclusive lock
         * until commit, which serializes concurrent writers on popular accounts, and still puts
         * a property record change in the transaction log.
         */
        private void replace(long node, int property, Value value) throws KernelException {
            Value current = stored(node, property);
            if (value == null) {
                if (current != Values.NO_VALUE) {
                    write.nodeRemoveProperty(node, property);
                }
            } else if (!value.equals(current)) {
                set(node, property, value);
            }
        }

        private static void putIfGiven(MutableIntObjectMap<Value> properties, int property, Object value) {
            if (value != null) {
                properties.put(property, Values.of(value));
            }
        }

        private void setIfGiven(long node, int property, Object value) throws KernelException {
            if (value != null) {
                replace(node, property, Values.of(value));
            }
        }

        private void set(long node, int property, Value value) throws KernelException {
            write.nodeSetProperty(node, property, value);
            written.properties++;
        }

        private int key(String name) throws KernelException {
            Integer id = propertyKeys.get(name);
            if (id == null) {
                id = tokens.propertyKeyGetOrCreateForName(name);
                propertyKeys.put(name, id);
            }
            return id;
        }
    }

    /** Epoch microseconds as the DateTime (UTC) that Cypher's datetime({epochSeconds, nanosecond}) gives. */
    static DateTimeValue datetime(long micros) {
        return DateTimeValue.datetime(Math.floorDiv(micros, 1_000_000L),
                Math.floorMod(micros, 1_000_000L) * 1_000L, ZoneOffset.UTC);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> asMap(Object value) {
        return (Map<String, Object>) value;
    }

    private static Map<String, Object> table(Map<String, Object> batch, String name) {
        Object table = batch.get(name);
        return table == null ? Map.of() : asMap(table);
    }

    private static List<?> column(Map<String, Object> table, String name) {
        Object column = table.get(name);
        return column == null ? List.of() : (List<?>) column;
    }
}

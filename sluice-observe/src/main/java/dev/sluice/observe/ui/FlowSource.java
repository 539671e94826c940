package dev.sluice.observe.ui;

import dev.sluice.observe.v1.Flow;
import dev.sluice.observe.v1.GetFlowsRequest;

import java.util.function.Consumer;

/**
 * Where the UI reads flows from: one small seam, so that the nodes' merge the UI uses today
 * ({@link NodeMergeFlowSource}) can be replaced by a relay client without touching the map or the page.
 * The request carries {@code sluice observe}'s filters, number, since and follow exactly as the Observer API takes them.
 */
public interface FlowSource {

    /**
     * Starts delivering the flows {@code request} selects: the last {@code number} first, then (with follow) new ones
     * until the subscription is closed. {@code flows} may be called from several threads, but never concurrently;
     * {@code problems} hears, in a sentence, of a node that cannot be read (the others go on).
     */
    Subscription subscribe(GetFlowsRequest request, Consumer<Flow> flows, Consumer<String> problems);

    /** A running delivery; closing it stops every stream it opened. */
    interface Subscription extends AutoCloseable {
        @Override
        void close();
    }
}

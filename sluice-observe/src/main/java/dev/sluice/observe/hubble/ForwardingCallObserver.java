package dev.sluice.observe.hubble;

import io.grpc.stub.ServerCallStreamObserver;

import java.util.function.Function;

/**
 * A server call's stream of one message type seen as a stream of another: lets the node's flow streaming
 * (ObserverService, written over Sluice's messages) answer a call of Hubble's API, with its flow control and
 * cancellation intact.
 */
final class ForwardingCallObserver<A, B> extends ServerCallStreamObserver<A> {
    private final ServerCallStreamObserver<B> call;
    private final Function<A, B> map;

    ForwardingCallObserver(ServerCallStreamObserver<B> call, Function<A, B> map) {
        this.call = call;
        this.map = map;
    }

    @Override public boolean isCancelled() { return call.isCancelled(); }
    @Override public void setOnCancelHandler(Runnable handler) { call.setOnCancelHandler(handler); }
    @Override public void setCompression(String compression) { call.setCompression(compression); }
    @Override public boolean isReady() { return call.isReady(); }
    @Override public void setOnReadyHandler(Runnable handler) { call.setOnReadyHandler(handler); }
    @Override public void disableAutoInboundFlowControl() { call.disableAutoInboundFlowControl(); }
    @Override public void request(int count) { call.request(count); }
    @Override public void setMessageCompression(boolean enable) { call.setMessageCompression(enable); }
    @Override public void onNext(A value) { call.onNext(map.apply(value)); }
    @Override public void onError(Throwable t) { call.onError(t); }
    @Override public void onCompleted() { call.onCompleted(); }
}

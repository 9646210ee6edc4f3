package dev.inprocbus.android;

import java.util.Collections;
import java.util.TreeMap;
import javax.annotation.Priority;
import javax.inject.Inject;
import org.robolectric.internal.dependency.DependencyResolver;
import org.robolectric.pluginapi.Sdk;
import org.robolectric.plugins.DefaultSdkProvider;

/**
 * Robolectric's SDKs, limited to the one the build resolves (API 34, the
 * {@code android-all-instrumented} jar named in pom.xml). Robolectric otherwise loads
 * framework resources from the newest SDK it knows (35), which would be a second 150 MB
 * jar to fetch. Found through {@code META-INF/services}; its priority beats the default.
 */
@Priority(1)
public class Sdk34Provider extends DefaultSdkProvider {
    @Inject
    public Sdk34Provider(DependencyResolver dependencyResolver) {
        super(dependencyResolver);
    }

    @Override
    protected void populateSdks(TreeMap<Integer, Sdk> knownSdks) {
        super.populateSdks(knownSdks);
        knownSdks.keySet().retainAll(Collections.singleton(34));
    }
}

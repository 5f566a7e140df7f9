# Conan 2 recipe: builds kbus from this checkout with its dependencies from Conan Center.
# Its options mirror the CMake ones (tests/packaging/conan_recipe_check.py holds them to it).
from conan import ConanFile
from conan.tools.cmake import CMake, CMakeToolchain, CMakeDeps, cmake_layout
from conan.tools.files import copy
import os


class KbusConan(ConanFile):
    name = "kbus"
    version = "0.1.0"
    license = "MIT"
    description = "C++20 D-Bus library: one marshalling, three transports (socket, kdbus, CUSE)"
    topics = ("dbus", "ipc", "asio", "kdbus")
    settings = "os", "compiler", "build_type", "arch"
    options = {
        "shared": [True, False],
        "fPIC": [True, False],
        "with_kdbus": [True, False],
        "with_cuse": [True, False],
        "with_kbusd": [True, False],
        "werror": [True, False],
    }
    default_options = {
        "shared": True,
        "fPIC": True,
        "with_kdbus": True,
        "with_cuse": True,
        "with_kbusd": True,
        "werror": False,
    }

    def export_sources(self):
        # The recipe lives in conan/; the sources are the checkout around it.
        root = os.path.join(self.recipe_folder, "..")
        for pattern in ("CMakeLists.txt", "LICENSE", "cmake/*", "include/*", "src/*", "tools/*", "docs/*"):
            copy(self, pattern, root, self.export_sources_folder)

    def config_options(self):
        # The kdbus and CUSE transports and kbusd exist on Linux only (as in CMake).
        if self.settings.os != "Linux":
            self.options.with_kdbus = False
            self.options.with_cuse = False
            self.options.with_kbusd = False

    def configure(self):
        if self.options.shared:
            self.options.rm_safe("fPIC")

    def layout(self):
        cmake_layout(self)

    def requirements(self):
        # Boost.Asio, Boost's result and pfr in the public headers.
        self.requires("boost/1.83.0", transitive_headers=True)
        self.requires("openssl/3.2.1")              # SHA-1 for DBUS_COOKIE_SHA1
        self.requires("nlohmann_json/3.11.3")       # JSON in the library and the kbus program
        self.requires("cli11/2.3.2")                # the programs' command lines
        self.requires("expat/2.6.0")                # kbus-codegen reads introspection XML
        if self.options.with_kbusd:
            self.requires("abseil/20230802.1")      # kbusd's flags
            self.requires("libfuse/3.16.2")         # kbusd's CUSE session

    def generate(self):
        CMakeDeps(self).generate()
        tc = CMakeToolchain(self)
        tc.variables["KBUS_BUILD_TESTS"] = False
        tc.variables["KBUS_BUILD_EXAMPLES"] = False
        tc.variables["KBUS_SHARED"] = self.options.shared
        tc.variables["KBUS_WITH_KDBUS"] = self.options.with_kdbus
        tc.variables["KBUS_WITH_CUSE"] = self.options.with_cuse
        tc.variables["KBUS_WITH_KBUSD"] = self.options.with_kbusd
        tc.variables["KBUS_WERROR"] = self.options.werror
        tc.generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        CMake(self).install()
        copy(self, "LICENSE", self.source_folder, os.path.join(self.package_folder, "licenses"))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "kbus")
        self.cpp_info.set_property("cmake_target_name", "kbus::kbus")
        self.cpp_info.set_property("pkg_config_name", "kbus")
        self.cpp_info.libs = ["kbus"]
        if self.settings.os in ("Linux", "FreeBSD"):
            self.cpp_info.system_libs = ["pthread"]
